# faults/: libipcvet-faults.so (LD_PRELOAD interposer, also linked into
# ipcvet), generated from faults/ipc.tbl by faults/gen.awk, and the fixture
# programs the exec tests run. Included by the Makefile.
#
# The library is built with its own flags (never with --coverage: every
# preloaded program would write .gcda files), into lib/ shared by all builds;
# it is replaced atomically so side-by-side builds can race.

FAULTS_LIB      := lib/libipcvet-faults.so
FAULTS_GENDIR   := $(BUILD)/faults
FAULTS_GEN      := $(FAULTS_GENDIR)/ipc_gen.h $(FAULTS_GENDIR)/ipc_gen.c
FAULTS_LIB_SRC  := faults/engine.c faults/plan.c
FAULTS_LIB_DEPS := $(FAULTS_LIB_SRC) $(FAULTS_GEN) faults/engine.h faults/faults.h faults/shared.h
FAULTS_CFLAGS   := -O2 -g -std=gnu11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
                   -iquote faults -iquote $(BUILD)

# What the Makefile uses.
FAULTS_GENERATED :=
FAULTS_CLI_OBJ   := $(FAULTS_LIB)
# rpath from the linked binary's directory to lib/ (relative, so the tree
# can move), then where `make install` puts the library.
faults_empty :=
faults_space := $(faults_empty) $(faults_empty)
faults_up     = $(subst $(faults_space),,$(patsubst %,../,$(subst /, ,$(1))))
faults_rpath  = $(if $(filter /%,$(1)),$(CURDIR)/lib,$$ORIGIN/$(call faults_up,$(1))lib)
FAULTS_LDLIBS = -Wl,-rpath,'$(call faults_rpath,$(@D)):$$ORIGIN/../lib/ipcvet' -lfiu -ldl
FAULTS_INSTALL = install -d $(DESTDIR)$(PREFIX)/lib/ipcvet && \
                 install -m 644 $(FAULTS_LIB) $(DESTDIR)$(PREFIX)/lib/ipcvet/libipcvet-faults.so

$(FAULTS_GENDIR)/ipc_gen.h: faults/ipc.tbl faults/gen.awk
	@mkdir -p $(@D)
	awk -v out=h -f faults/gen.awk faults/ipc.tbl > $@.tmp && mv -f $@.tmp $@

$(FAULTS_GENDIR)/ipc_gen.c: faults/ipc.tbl faults/gen.awk
	@mkdir -p $(@D)
	awk -v out=c -f faults/gen.awk faults/ipc.tbl > $@.tmp && mv -f $@.tmp $@

$(FAULTS_LIB): $(FAULTS_LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(FAULTS_CFLAGS) -shared -Wl,-soname,libipcvet-faults.so -o $@.$$$$.tmp \
	  $(FAULTS_LIB_SRC) $(FAULTS_GENDIR)/ipc_gen.c -lfiu -ldl && mv -f $@.$$$$.tmp $@

# Fixtures: correct programs (clean under every single injection of their
# calls) and programs with one seeded defect each. static_* link statically.
FIXTURE_SRC := $(wildcard fixtures/correct/*.c fixtures/seeded/*.c)
FIXTURES    := $(patsubst fixtures/%.c,$(BUILD)/fixtures/%,$(FIXTURE_SRC))

$(BUILD)/fixtures/%: fixtures/%.c fixtures/fixture.h
	@mkdir -p $(@D)
	$(CC) $(filter-out --coverage,$(CFLAGS)) $(if $(findstring static_,$(notdir $*)),-static) \
	  -o $@ $< -lpthread

# fixtures/explore/: ipcvet explore's corpus (a correct NAME_ok.c per
# mechanism; each seeded program includes its twin with SEEDED defined).
EXPLORE_FIXTURE_SRC := $(wildcard fixtures/explore/*.c)
EXPLORE_FIXTURES    := $(patsubst fixtures/%.c,$(BUILD)/fixtures/%,$(EXPLORE_FIXTURE_SRC))

$(BUILD)/fixtures/explore/%: fixtures/explore/%.c fixtures/explore/explore.h fixtures/fixture.h \
                             $(wildcard fixtures/explore/*_ok.c)
	@mkdir -p $(@D)
	$(CC) $(filter-out --coverage,$(CFLAGS)) -o $@ $< -lpthread

FAULTS_ALL += $(FAULTS_LIB) $(FIXTURES) $(EXPLORE_FIXTURES)

# ipcvet's own tests find the fixtures and the library here.
selftest: export IPCVET_FIXTURES := $(abspath $(BUILD)/fixtures)
selftest: export IPCVET_FAULTS_LIB := $(abspath $(FAULTS_LIB))
