# capsa - one non-recursive Makefile.
#   make            build/capsa
#   make asan       build/asan/capsa (ASan + UBSan)
#   make check      unit tests (normal and ASan builds), fuzz corpus replay
#   make lint       format check, layering check, banned functions
#   make unikernels build/uk/*.spt, the example unikernels (part of make)
VARIANT ?= release
ifeq ($(VARIANT),asan)
BUILD   ?= build/asan
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g
else
BUILD   ?= build
SANFLAGS = -O2 -g
endif

CC      ?= gcc
PKGS     = jansson libseccomp
WERROR  ?= 1
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wformat-security -Wpointer-arith -Wwrite-strings -Wvla -Wimplicit-fallthrough \
           -Wundef -Wcast-align -Wnull-dereference -Wswitch-enum
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc/lib -MMD -MP
CFLAGS  += -std=gnu11 $(WARN) $(SANFLAGS) -fstack-protector-strong \
           $(if $(findstring asan,$(VARIANT)),,-D_FORTIFY_SOURCE=2) \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS))
LDFLAGS += $(SANFLAGS) -Wl,-z,relro,-z,now
# The release binary is a static PIE (ASLR kept): no dynamic loader, no
# shared library to map and relocate on every start, and nothing on the start
# path resolved from a library path. ASan needs a dynamic binary.
ifneq ($(VARIANT),asan)
CAPSA_LDFLAGS = -static-pie
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPPFLAGS += -DCAPSA_VERSION='"$(VERSION)"' -DCAPSA_GITREV='"$(GITREV)"'
# The objects that embed them are rebuilt when either changes (a new commit
# checked out, VERSION edited): the stamp is rewritten, at every make, only
# when its content differs, so make sees a newer prerequisite exactly then.
# Without .git (a tarball) GITREV is "unknown" and the stamp stays put.
VERSION_STAMP := $(BUILD)/version.stamp
$(shell mkdir -p $(BUILD) && v='$(VERSION) $(GITREV)' && \
  { [ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$$v" ] || echo "$$v" >$(VERSION_STAMP); })

LIB_SRC  := $(sort $(wildcard src/lib/*/*.c src/lib/*/*/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all asan check unit lint shell-lint format format-check clean helpers
all: $(BUILD)/capsa helpers unikernels

$(BUILD)/libcapsa.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/capsa: $(CLI_OBJ) $(BUILD)/libcapsa.a
	$(CC) $(LDFLAGS) $(CAPSA_LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libcapsa.a $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/src/cli/main.o $(BUILD)/obj/src/lib/core/misc.o \
  $(BUILD)/obj/src/lib/core/features.o: $(VERSION_STAMP)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcapsa.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcapsa.a $(LDLIBS) -lcmocka

# Test helpers run inside containers: static, never sanitized.
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=build/helpers/%)
helpers: $(HELPER_BIN)
build/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -std=gnu11 -O2 -Wall -Wextra -Werror -static -o $@ $<

# The vm level's test driver (tests/vm/vmboot.c): boots a VM through the
# library's QEMU backend without the CLI, for tests/integration/vm_boot.bats.
VM_TEST_BIN := $(BUILD)/tests/vmboot
helpers: $(VM_TEST_BIN)
$(VM_TEST_BIN): tests/vm/vmboot.c $(BUILD)/libcapsa.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcapsa.a $(LDLIBS)

asan:
	$(MAKE) VARIANT=asan all-asan
all-asan: $(BUILD)/capsa $(UNIT_BIN)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

check:
	$(MAKE) unit
	$(MAKE) VARIANT=asan unit
	$(MAKE) fuzz-replay

lint: format-check shell-lint
	scripts/check-layering.sh
	@# clang refuses a goto that jumps over a cleanup variable: gcc does not.
	clang -fsyntax-only -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc/lib -Wall -Wextra -Werror \
	  -Wno-unused-command-line-argument -DCAPSA_VERSION='"lint"' -DCAPSA_GITREV='"lint"' \
	  $(shell pkg-config --cflags jansson) $(LIB_SRC) $(CLI_SRC)
	@! git grep -nE '\b(sprintf|strcpy|strcat|system)\(' -- 'src/*.c' 'src/*.h' || \
	  (echo "banned function used" >&2; exit 1)

# Shell: shellcheck (Debian's, every check on; each exception is justified inline or in
# tests/integration/.shellcheckrc) over every tracked script and bats file, then
# scripts/check-tests.sh for the bats assertions that cannot fail, which shellcheck misses.
SHELL_SRC = $(shell git ls-files '*.sh' '*.bash' '*.bats' .ci/run)
shell-lint:
	shellcheck $(SHELL_SRC)
	scripts/check-tests.sh $(filter %.bats %.bash,$(SHELL_SRC))

format:
	clang-format -i $$(git ls-files '*.[ch]')
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.[ch]')

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# The vm level's guest agent (src/agent, docs/vm-protocol.md): static like capsa, PID 1 of
# the guest's initramfs; on the host it runs with --no-init (tests/integration/vm_agent.bats).
AGENT_SRC := $(sort $(wildcard src/agent/*.c))
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILD)/obj/%.o)
.PHONY: agent lint-agent
all: $(BUILD)/capsa-agent
agent: $(BUILD)/capsa-agent
$(BUILD)/capsa-agent: $(AGENT_OBJ) $(BUILD)/libcapsa.a
	$(CC) $(LDFLAGS) $(CAPSA_LDFLAGS) -o $@ $(AGENT_OBJ) $(BUILD)/libcapsa.a $(LDLIBS)
lint: lint-agent
lint-agent:
	clang -fsyntax-only -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc/lib -Wall -Wextra -Werror \
	  $(shell pkg-config --cflags jansson) $(AGENT_SRC)
-include $(AGENT_OBJ:.o=.d)

# libFuzzer targets: fuzz-build, fuzz-replay (part of check), fuzz (scripts/fuzz.sh).
include tests/fuzz/fuzz.mk

# The freestanding guest library and example unikernels (uk/, docs/unikernel.md).
include uk/uk.mk
