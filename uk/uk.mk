# uk/uk.mk - builds the example unikernels for the spt tender (issue 8).
# Included by the top Makefile; `make unikernels` writes build/uk/<name>.spt.
# Guests are freestanding static ELFs: no libc, no PIE, no stack protector
# (nothing sets up %fs for its canary), no SSE (the guest never needs it and
# general registers keep the code simple), linked by uk/guest/uk.ld into
# separate R/X, R and RW segments. Only gcc is needed, so including this is
# cheap. Variables are UK_-prefixed to stay out of the top Makefile's way.
UK_DIR      := uk
UK_OUT      := build/uk
UK_CC       ?= gcc
UK_CFLAGS   := -std=gnu11 -ffreestanding -fno-builtin -fno-pie -fno-pic -fno-stack-protector \
               -fno-asynchronous-unwind-tables -fno-unwind-tables \
               -fno-tree-loop-distribute-patterns -mgeneral-regs-only -O2 -g \
               -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
               -Wformat=2 -Wformat-security -Wpointer-arith -Wwrite-strings -Wvla -Wundef \
               -Wcast-align -Wimplicit-fallthrough -Wswitch-enum -Wnull-dereference \
               -I$(UK_DIR)/guest -Isrc/lib -MMD -MP
UK_LDFLAGS  := -nostdlib -static -no-pie -Wl,-T,$(UK_DIR)/guest/uk.ld -Wl,-z,noexecstack \
               -Wl,-z,max-page-size=0x1000 -Wl,-z,norelro -Wl,--build-id=none
UK_LIB_SRC  := $(sort $(wildcard $(UK_DIR)/guest/*.c))
UK_LIB_OBJ  := $(UK_LIB_SRC:$(UK_DIR)/%.c=$(UK_OUT)/obj/%.o)
UK_EXAMPLES := $(sort $(wildcard $(UK_DIR)/examples/*.c))
UK_IMAGES   := $(UK_EXAMPLES:$(UK_DIR)/examples/%.c=$(UK_OUT)/%.spt)

.PHONY: unikernels
unikernels: $(UK_IMAGES)

$(UK_OUT)/libuk.a: $(UK_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(UK_OUT)/obj/%.o: $(UK_DIR)/%.c
	@mkdir -p $(@D)
	$(UK_CC) $(UK_CFLAGS) -c -o $@ $<

# The application comes first so that its manifest note and uk_main pull in
# what they need from libuk.a; the library's start.o is forced in with -u.
$(UK_OUT)/%.spt: $(UK_OUT)/obj/examples/%.o $(UK_OUT)/libuk.a $(UK_DIR)/guest/uk.ld
	$(UK_CC) $(UK_LDFLAGS) -Wl,-u,_start -o $@ $< $(UK_OUT)/libuk.a

.SECONDARY: $(UK_EXAMPLES:$(UK_DIR)/%.c=$(UK_OUT)/obj/%.o)

-include $(UK_LIB_OBJ:.o=.d) $(UK_EXAMPLES:$(UK_DIR)/%.c=$(UK_OUT)/obj/%.d)
