# faults/gen.awk: faults/ipc.tbl -> the wrappers and the point table.
#   awk -v out=c -f faults/gen.awk faults/ipc.tbl > ipc_gen.c
#   awk -v out=h -f faults/gen.awk faults/ipc.tbl > ipc_gen.h
# POSIX awk only (mawk runs it): no gensub, no arrays of arrays.

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function die(msg) { printf "faults/ipc.tbl:%d: %s\n", NR, msg > "/dev/stderr"; failed = 1; exit 1 }

# "void *shmat(int shmid, ...)" -> entry n: name, return type, parameters.
function parse_proto(line,    open, close_, pre, plist, k, np, p, pname, ptype) {
    open = index(line, "(")
    close_ = length(line)
    while (close_ > 0 && substr(line, close_, 1) != ")") close_--
    if (!open || close_ <= open) die("not a prototype: " line)
    pre = trim(substr(line, 1, open - 1))
    if (!match(pre, /[A-Za-z_][A-Za-z0-9_]*$/)) die("no function name: " line)
    n++
    name[n] = substr(pre, RSTART, RLENGTH)
    rtype[n] = trim(substr(pre, 1, RSTART - 1))
    family[n] = cur_family
    variadic[n] = 0
    nparam[n] = 0
    nva[n] = 0
    plist = trim(substr(line, open + 1, close_ - open - 1))
    if (plist == "void" || plist == "") return
    np = split(plist, parts, ",")
    for (k = 1; k <= np; k++) {
        p = trim(parts[k])
        if (p == "...") { variadic[n] = 1; continue }
        decl = p
        arr = ""
        if (match(p, /\[[0-9]*\]$/)) { arr = substr(p, RSTART); p = trim(substr(p, 1, RSTART - 1)) }
        if (!match(p, /[A-Za-z_][A-Za-z0-9_]*$/)) die("bad parameter '" p "'")
        pname = substr(p, RSTART, RLENGTH)
        ptype = trim(substr(p, 1, RSTART - 1))
        if (arr != "") ptype = ptype " *"
        nparam[n]++
        pn[n, nparam[n]] = pname
        pt[n, nparam[n]] = ptype
        pd[n, nparam[n]] = decl
    }
}

# printf conversion and argument expression for one value in a trace line.
function conv(type, nm,    base) {
    base = type
    gsub(/const |__restrict|restrict/, "", base)
    base = trim(base)
    if (base == "__CONST_SOCKADDR_ARG" || base == "__SOCKADDR_ARG") { cexpr = "(const void *)" nm ".__sockaddr__"; return "%p" }
    if (base == "struct sembuf *") { cexpr = "ipcv_fmt_sembuf(" nm ", nsops)"; return "%s" }
    if (base == "union ipcv_semun") { cexpr = "(unsigned long)(uintptr_t)" nm ".buf"; return "%#lx" }
    if (index(base, "*")) {
        if (base ~ /^char[ ]*\*$/ && nm ~ /^(name|pathname)$/) { cexpr = nm; return "\\\"%.96s\\\"" }
        cexpr = "(const void *)" nm
        return "%p"
    }
    if (base == "size_t") { cexpr = nm; return "%zu" }
    if (base == "ssize_t") { cexpr = nm; return "%zd" }
    if (base ~ /^(off_t|off64_t)$/) { cexpr = "(intmax_t)" nm; return "%jd" }
    if (base == "key_t") { cexpr = "(unsigned)" nm; return "%#x" }
    if (base ~ /^long( int)?$/) { cexpr = nm; return "%ld" }
    if (base == "mode_t" || nm ~ /^(shmflg|msgflg|semflg|oflag|flags)$/) { cexpr = "(unsigned)" nm; return "%#o" }
    if (base ~ /^(unsigned int|unsigned|socklen_t)$/) { cexpr = "(unsigned)" nm; return "%u" }
    cexpr = "(int)" nm
    return "%d"
}

function class_index(c,    k) {
    for (k = 1; k <= nclass; k++) if (classname[k] == c) return k - 1
    die("unknown class '%" c "' (declare it on the classes line)")
}

# Attributes of an alias come from the function it stands for.
function attr(i, key) { return (i, key) in A ? A[i, key] : (alias[i] != "" && (target[i], key) in A ? A[target[i], key] : "") }

BEGIN { n = 0; nclass = 0; ninc = 0; cur_family = ""; failed = 0 }

/^[ \t]*#/ || /^[ \t]*$/ { next }

/^classes[ \t]/ {
    nclass = split(trim(substr($0, 8)), classname, /[ \t]+/)
    next
}

/^include[ \t]/ { inc[++ninc] = trim(substr($0, 8)); next }

/^family[ \t]/ {
    cur_family = $2
    fams[++nfam] = cur_family
    famclasses[cur_family] = ""
    for (k = 3; k <= NF; k++) famclasses[cur_family] = famclasses[cur_family] " " $k
    next
}

/^[A-Za-z_]/ {
    if (cur_family == "") die("function before any family line")
    parse_proto($0)
    alias[n] = ""
    next
}

/^[ \t]+[a-z]+:/ {
    if (!n) die("attribute before any prototype")
    line = trim($0)
    key = substr(line, 1, index(line, ":") - 1)
    val = trim(substr(line, index(line, ":") + 1))
    if (key == "va") {
        eq = index(val, "=")
        if (!eq) die("va: needs DECL = EXPR")
        vdecl[n, ++nva[n]] = trim(substr(val, 1, eq - 1))
        vexpr[n, nva[n]] = trim(substr(val, eq + 1))
        d = vdecl[n, nva[n]]
        match(d, /[A-Za-z_][A-Za-z0-9_]*$/)
        nparam[n]++
        pn[n, nparam[n]] = substr(d, RSTART, RLENGTH)
        pt[n, nparam[n]] = trim(substr(d, 1, RSTART - 1))
        next
    }
    if (key == "as") {
        alias[n] = val
        for (k = 1; k < n; k++) if (name[k] == val && alias[k] == "") target[n] = k
        if (!(n in target)) die("as: " val " must name an earlier function")
        next
    }
    if (key !~ /^(ret|errnos|flags|len|iov|msg|fd|version|ok|record|usage|sigpipe|call)$/) die("unknown attribute '" key "'")
    if ((n, key) in A) die("attribute '" key "' given twice")
    A[n, key] = val
    next
}

{ die("cannot read: " $0) }

END {
    if (failed) exit 1
    # Point ids: every function that is not an alias.
    npoint = 0
    for (i = 1; i <= n; i++) {
        if (alias[i] != "") continue
        id[i] = npoint++
        r = A[i, "ret"]
        if (r !~ /^(minus1|errno|voidp|semfailed|mapfailed|mqd)$/) { NR = 0; die(name[i] ": ret: must be minus1, errno, voidp, semfailed, mapfailed or mqd") }
        if (A[i, "errnos"] == "") { NR = 0; die(name[i] ": no errnos") }
    }
    for (i = 1; i <= n; i++) if (alias[i] != "") id[i] = id[target[i]]
    if (out == "h") emit_header(); else emit_c()
}

function emit_header(    i) {
    print "/* Generated by faults/gen.awk from faults/ipc.tbl: do not edit. */"
    print "#ifndef IPCV_IPC_GEN_H"
    print "#define IPCV_IPC_GEN_H"
    print ""
    print "enum ipcv_fn_id {"
    for (i = 1; i <= n; i++) if (alias[i] == "") printf "    IPCV_FN_%s = %d,\n", name[i], id[i]
    print "    IPCV_NFN"
    print "};"
    printf "#define IPCV_NCLASS %d\n", nclass
    print ""
    print "#endif"
}

function emit_c(    i, k, j, c, e, ne, errs, fl, cls, tok, m, ci, fdm, nc, kinds) {
    print "/* Generated by faults/gen.awk from faults/ipc.tbl: do not edit. */"
    print "#define _GNU_SOURCE"
    for (k = 1; k <= ninc; k++) print "#include " inc[k]
    print ""
    print "#include \"engine.h\""
    print ""
    # Class names.
    printf "const char *const ipcv_class_names[IPCV_NCLASS] = {"
    for (k = 1; k <= nclass; k++) printf " \"%%%s\",", classname[k]
    print " };"
    print ""
    # Errno lists.
    for (i = 1; i <= n; i++) {
        if (alias[i] != "") continue
        ne = split(A[i, "errnos"], errs, /[ \t]+/)
        nerr[i] = ne
        printf "static const int errnos_%s[] = {", name[i]
        for (e = 1; e <= ne; e++) printf " %s,", errs[e]
        print " };"
    }
    print ""
    print "const struct ipcv_point ipcv_points[IPCV_NFN] = {"
    for (i = 1; i <= n; i++) {
        if (alias[i] != "") continue
        fl = ""
        if (A[i, "flags"] ~ /blocks/) fl = fl "|IPCV_F_BLOCKS"
        if (A[i, "flags"] ~ /creates/) fl = fl "|IPCV_F_CREATES"
        if (A[i, "flags"] ~ /destroys/) fl = fl "|IPCV_F_DESTROYS"
        if (A[i, "len"] != "" || A[i, "iov"] != "" || A[i, "msg"] != "") fl = fl "|IPCV_F_LENGTH"
        if (A[i, "fd"] != "") fl = fl "|IPCV_F_FDSCOPE"
        fl = fl == "" ? "0" : substr(fl, 2)
        # Per-class fd masks: 7 = every fd kind (or no fd at all).
        for (k = 0; k < nclass; k++) cm[k] = 0
        nc = split(trim(famclasses[family[i]]), cls, /[ \t]+/)
        for (k = 1; k <= nc; k++) {
            tok = cls[k]
            if (tok == "") continue
            sub(/^%/, "", tok)
            m = 7
            if (index(tok, ":")) {
                kinds = substr(tok, index(tok, ":") + 1)
                tok = substr(tok, 1, index(tok, ":") - 1)
                m = 0
                if (kinds ~ /pipe/) m += 1
                if (kinds ~ /fifo/) m += 2
                if (kinds ~ /sock/) m += 4
            }
            cm[class_index(tok)] = m
        }
        printf "    [IPCV_FN_%s] = { \"%s\", \"%s\", \"ipc/%s/%s\", IPCV_RET_%s, errnos_%s, %d, %s, {", \
            name[i], name[i], family[i], family[i], name[i], toupper(A[i, "ret"]), name[i], nerr[i], fl
        for (k = 0; k < nclass; k++) printf "%s%d", k ? ", " : " ", cm[k]
        print " } },"
    }
    print "};"
    print ""
    for (i = 1; i <= n; i++) emit_wrapper(i)
    print "void ipcv_resolve_all(void)"
    print "{"
    for (i = 1; i <= n; i++) printf "    if (!real_%s) resolve_%s();\n", name[i], name[i]
    print "}"
}

function arglist(i,    k, s) {
    s = ""
    for (k = 1; k <= nparam[i]; k++) s = s (k > 1 ? ", " : "") pn[i, k]
    return s
}

function emit_wrapper(i,    us, slowparams, k, f, params, types, fmt, fargs, ret, rt, fn, fail, okx, ver, call, lenarg, iova, msga, fdx, rec, sp, resfmt, va) {
    f = name[i]
    rt = rtype[i]
    fn = "IPCV_FN_" (alias[i] != "" ? alias[i] : f)
    ret = attr(i, "ret")
    params = ""
    types = ""
    for (k = 1; k <= nparam[i] - nva[i]; k++) {
        params = params (k > 1 ? ", " : "") pd[i, k]
        types = types (k > 1 ? ", " : "") pt[i, k]
    }
    if (params == "") { params = "void"; types = "void" }
    if (variadic[i]) { params = params ", ..."; types = types ", ..." }
    # Trace format of the arguments.
    fmt = ""; fargs = ""
    for (k = 1; k <= nparam[i]; k++) {
        fmt = fmt (k > 1 ? ", " : "") conv(pt[i, k], pn[i, k])
        fargs = fargs ", " cexpr
    }
    if (ret == "minus1" || ret == "mqd") { fail = "(" rt ")-1"; okx = "ret != (" rt ")-1" }
    if (ret == "voidp") { fail = "(void *)-1"; okx = "ret != (void *)-1" }
    if (ret == "mapfailed") { fail = "MAP_FAILED"; okx = "ret != MAP_FAILED" }
    if (ret == "semfailed") { fail = "SEM_FAILED"; okx = "ret != SEM_FAILED" }
    if (ret == "errno") { fail = "c.err"; okx = "ret == 0" }
    if (attr(i, "ok") != "") okx = attr(i, "ok")
    ver = attr(i, "version")
    call = attr(i, "call")
    if (call == "") call = "real(" arglist(i) ")"
    lenarg = attr(i, "len"); iova = attr(i, "iov"); msga = attr(i, "msg"); fdx = attr(i, "fd")
    rec = attr(i, "record"); sp = attr(i, "sigpipe")

    printf "/* %s: %s */\n", f, alias[i] != "" ? "counts as " alias[i] : "ipc/" family[i] "/" f
    printf "typedef %s (*%s_fn)(%s);\n", rt, f, types
    printf "static %s_fn real_%s;\n", f, f
    printf "static %s missing_%s(%s)\n{\n", rt, f, params
    for (k = 1; k <= nparam[i] - nva[i]; k++) printf "    (void)%s;\n", pn[i, k]
    if (ret == "errno") print "    return ENOSYS;"
    else printf "    errno = ENOSYS;\n    return %s;\n", fail
    print "}"
    printf "static __attribute__((noinline, cold)) %s_fn resolve_%s(void)\n{\n", f, f
    printf "    %s_fn p = (%s_fn)ipcv_real(\"%s\", %s);\n", f, f, f, ver == "" ? "NULL" : "\"" ver "\""
    printf "    real_%s = p ? p : missing_%s;\n", f, f
    printf "    return real_%s;\n}\n", f
    # The slow path: its own function, so the exported one stays a load, a
    # test and a tail call when nothing is armed.
    slowparams = f "_fn real, const void *caller"
    for (k = 1; k <= nparam[i]; k++) slowparams = slowparams ", " (k <= nparam[i] - nva[i] ? pd[i, k] : vdecl[i, k - (nparam[i] - nva[i])])
    printf "static __attribute__((noinline)) %s slow_%s(%s)\n{\n", rt, f, slowparams
    print "    struct ipcv_call c;"
    printf "    if (!ipcv_enter(&c, %s, %s, caller))\n", fn, fdx == "" ? "-1" : fdx
    printf "        return real(%s);\n", arglist(i)
    if (fmt != "") printf "    if (c.want_args)\n        snprintf(c.args, sizeof c.args, \"%s\"%s);\n", fmt, fargs
    print "    int saved_errno = errno;"
    printf "    %s ret;\n", rt
    print "    if (ipcv_before(&c)) {"
    if (ret == "errno") print "        ret = c.err;"
    else printf "        ret = %s;\n        saved_errno = c.err;\n", fail
    if (sp != "") printf "        if (c.err == EPIPE && (%s))\n            ipcv_raise_sigpipe();\n", sp
    print "    } else {"
    if (lenarg != "") printf "        if (c.short_n && %s > c.short_n) {\n            c.short_from = %s;\n            %s = c.short_n;\n        }\n", lenarg, lenarg, lenarg
    if (iova != "") { split(iova, va, /[ \t]+/); printf "        if (c.short_n)\n            %s = ipcv_short_iov(&c, %s, &%s);\n", va[1], va[1], va[2] }
    if (msga != "") printf "        struct msghdr *orig_msg = (struct msghdr *)%s;\n        if (c.short_n)\n            %s = ipcv_short_msg(&c, %s);\n", msga, msga, msga
    printf "        ret = %s;\n", call
    if (ret != "errno") print "        saved_errno = errno;"
    if (msga != "") printf "        if (%s != orig_msg)\n            ipcv_short_msg_done(&c, orig_msg);\n", msga
    print "    }"
    printf "    int ok = %s;\n", okx
    if (ret == "errno") print "    int err = ok ? 0 : (int)ret;"
    else print "    int err = ok ? 0 : saved_errno;"
    if (rec != "") printf "    if (ok && !c.in_child) {\n        %s;\n    }\n", rec
    us = attr(i, "usage")
    if (us != "") printf "    if (ok && c.recording && !c.in_child) {\n        %s;\n    }\n", us
    print "    if (c.want_result) {"
    if (ret == "errno") print "        snprintf(c.res, sizeof c.res, \"%d\", (int)ret);"
    else if (ret ~ /^(voidp|mapfailed|semfailed)$/) print "        snprintf(c.res, sizeof c.res, \"%p\", (void *)ret);"
    else print "        snprintf(c.res, sizeof c.res, \"%ld\", (long)ret);"
    print "    }"
    print "    ipcv_after(&c, ok, err);"
    print "    errno = saved_errno;"
    print "    return ret;"
    print "}"
    printf "IPCV_EXPORT %s %s(%s)\n{\n", rt, f, params
    if (nva[i]) {
        printf "    va_list ap;\n    va_start(ap, %s);\n", pn[i, nparam[i] - nva[i]]
        for (k = 1; k <= nva[i]; k++) printf "    %s = %s;\n", vdecl[i, k], vexpr[i, k]
        print "    va_end(ap);"
    }
    printf "    %s_fn real = real_%s ? real_%s : resolve_%s();\n", f, f, f, f
    print "    if (__builtin_expect(ipcv_armed() != 0, 0))"
    printf "        return slow_%s(real, __builtin_return_address(0)%s%s);\n", f, nparam[i] ? ", " : "", arglist(i)
    printf "    return real(%s);\n", arglist(i)
    print "}"
    print ""
}
