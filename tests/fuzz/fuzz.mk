# tests/fuzz/fuzz.mk - libFuzzer targets, included by the top Makefile.
#   make fuzz-build     build/fuzz/<target> for every tests/fuzz/fuzz_<target>.c
#   make fuzz-replay    run every target over its checked-in corpus only (make check)
#   make fuzz           fuzz each target for FUZZ_SECONDS (default 60); new inputs
#                       go to build/fuzz/corpus/<target>, never into the repository
# Everything here is prefixed FUZZ_ so that it cannot collide with the main
# Makefile's variables (BUILD, CFLAGS, VARIANT ... mean other things there).
# Guarded so that `make -f Makefile -f tests/fuzz/fuzz.mk` (scripts/fuzz.sh)
# works whether or not the Makefile includes this file.
ifndef FUZZ_MK_INCLUDED
FUZZ_MK_INCLUDED := 1

FUZZ_CC       ?= clang
FUZZ_DIR      := build/fuzz
FUZZ_SECONDS  ?= 60
FUZZ_PKGS     := jansson libseccomp
FUZZ_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Isrc/lib -MMD -MP \
                 -DCAPSA_VERSION='"fuzz"' -DCAPSA_GITREV='"fuzz"'
FUZZ_CFLAGS   := -std=gnu11 -g -O1 -fno-omit-frame-pointer \
                 $(shell pkg-config --cflags $(FUZZ_PKGS))
# The library is instrumented for coverage (fuzzer-no-link) and sanitized;
# only the targets link libFuzzer's main.
FUZZ_LIB_SAN  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_BIN_SAN  := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# The targets are ours: hold them to the project's warnings.
FUZZ_WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
                 -Wformat=2 -Wvla -Wimplicit-fallthrough -Wnull-dereference -Wswitch-enum
FUZZ_LDLIBS   := $(shell pkg-config --libs $(FUZZ_PKGS))

FUZZ_LIB_SRC  := $(sort $(wildcard src/lib/*/*.c src/lib/*/*/*.c))
FUZZ_LIB_OBJ  := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB      := $(FUZZ_DIR)/libcapsa-fuzz.a
FUZZ_SRC      := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS  := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_BIN      := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)

.PHONY: fuzz-build fuzz-replay fuzz
fuzz-build: $(FUZZ_BIN)

$(FUZZ_LIB_OBJ): $(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_LIB_SAN) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BIN): $(FUZZ_DIR)/%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_WARN) $(FUZZ_BIN_SAN) \
	  -MF $(FUZZ_DIR)/$*.d -o $@ $< $(FUZZ_LIB) $(FUZZ_LDLIBS)

# Replay: each checked-in input is run once, as a file argument (libFuzzer
# then never writes anything and exits non-zero on a crash, a leak or UB).
fuzz-replay: fuzz-build
	@mkdir -p $(FUZZ_DIR)/crashes
	@set -e; for t in $(FUZZ_TARGETS); do \
	  d=tests/fuzz/corpus/$$t; \
	  if [ ! -d "$$d" ] || [ -z "$$(ls -A "$$d")" ]; then \
	    echo "fuzz-replay: $$d is empty" >&2; exit 1; fi; \
	  echo "== fuzz-replay $$t ($$(ls "$$d" | wc -l) inputs)"; \
	  $(FUZZ_DIR)/$$t -rss_limit_mb=2048 -timeout=10 \
	    -artifact_prefix=$(FUZZ_DIR)/crashes/$$t- "$$d"/* >$(FUZZ_DIR)/replay-$$t.log 2>&1 \
	    || { tail -n 60 $(FUZZ_DIR)/replay-$$t.log >&2; exit 1; }; \
	done

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_SECONDS)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%.d)

endif
