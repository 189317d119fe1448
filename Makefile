# ipcvet: every entry point. `make run` is the main job, `make test` what CI runs.
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -iquote harness -iquote faults -iquote $(BUILD)
LDLIBS  += -lcriterion

ifeq ($(COVERAGE),1)
BUILD   := build/cov
BIN     := build/cov/bin
CFLAGS  := $(filter-out -O2,$(CFLAGS)) -O0 --coverage -DIPCV_COVERAGE
LDFLAGS += --coverage
endif

BIN          ?= bin
HARNESS_SRC  := $(filter-out harness/main.c,$(wildcard harness/*.c))
CASES_SRC    ?= $(wildcard cases/*.c)
TESTS_SRC    := $(wildcard tests/test_*.c)
DEMO_SRC     := $(wildcard tests/demo/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
HARNESS_OBJ  := $(call obj,$(HARNESS_SRC)) $(BUILD)/syscall_names.o
CASES_OBJ    := $(call obj,$(CASES_SRC))

IPCVET        := $(BIN)/ipcvet
DEMO          := $(BUILD)/ipcvet-demo
SELFTEST      := $(BUILD)/ipcvet-selftest

.PHONY: all deps run test selftest conformance valgrind coverage bench install clean
all: $(IPCVET) $(DEMO) $(SELFTEST)

deps:
	sh ci/install-deps.sh

-include faults/faults.mk
-include fixtures/fixtures.mk

$(BUILD)/syscall_names.c: harness/gen-syscall-names.sh
	@mkdir -p $(@D)
	CC="$(CC)" sh $< > $@

$(BUILD)/%.o: %.c $(wildcard harness/*.h faults/*.h cases/*.h tests/*.h) | $(BUILD)/syscall_names.c $(FAULTS_GENERATED)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/syscall_names.o: $(BUILD)/syscall_names.c
	$(CC) $(CFLAGS) -c -o $@ $<

# Cases are linked as objects, never through an archive: Criterion finds
# tests through an ELF section and the linker drops unreferenced members.
$(IPCVET): $(BUILD)/harness/main.o $(HARNESS_OBJ) $(CASES_OBJ) $(FAULTS_CLI_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(FAULTS_LDLIBS)

# The same command with misbehaving cases, for ipcvet's own tests.
$(DEMO): $(BUILD)/harness/main.o $(HARNESS_OBJ) $(call obj,$(DEMO_SRC)) $(FAULTS_CLI_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(FAULTS_LDLIBS)

$(SELFTEST): $(HARNESS_OBJ) $(call obj,$(TESTS_SRC)) $(FAULTS_CLI_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(FAULTS_LDLIBS)

# ipcvet's own tests: each one drives the real binaries above.
selftest: all $(FAULTS_ALL)
	IPCVET=$(abspath $(IPCVET)) IPCVET_DEMO=$(abspath $(DEMO)) IPCVET_TOP=$(CURDIR) \
	  timeout -k 10 900 sh ci/sandboxed.sh $(SELFTEST) -j2 $(SELFTEST_ARGS)

conformance: $(IPCVET) $(FAULTS_ALL)
	@mkdir -p reports
	timeout -k 10 900 $(IPCVET) run --junit reports/junit.xml $(RUN_ARGS)

run: deps conformance

test: deps
	sh ci/host-clean.sh snapshot $(BUILD)/host-before
	$(MAKE) selftest
	$(MAKE) conformance
	$(MAKE) mutants
	sh ci/behaviours.sh $(IPCVET)
	sh ci/host-clean.sh compare $(BUILD)/host-before

valgrind: all $(FAULTS_ALL)
	sh ci/valgrind.sh $(IPCVET) $(SELFTEST)

coverage:
	rm -rf build/cov coverage/html coverage/cobertura.xml coverage/summary.txt
	$(MAKE) COVERAGE=1 selftest conformance
	@mkdir -p coverage/html
	gcovr --root . --config coverage/gcovr.cfg --html-details coverage/html/index.html \
	  --cobertura coverage/cobertura.xml --txt coverage/summary.txt --print-summary build/cov

bench: all $(FAULTS_ALL)
	$(IPCVET) bench

install: $(IPCVET) $(FAULTS_ALL)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(IPCVET) $(DESTDIR)$(PREFIX)/bin/ipcvet
	$(FAULTS_INSTALL)

clean:
	rm -rf build bin lib reports coverage/html coverage/cobertura.xml coverage/summary.txt
