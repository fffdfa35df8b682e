# Makefile - builds the two daemons, fibctl and the unit tests out of tree.
#
# Called by build.sh; usable alone:
#   make                      # into build/
#   make BUILD=build/asan SAN=1   # with AddressSanitizer + UBSan
#   make unit                 # build and run the check unit tests
#   make install [DESTDIR=/tmp/stage] [PREFIX=/usr/local]
#                             # binaries into PREFIX/bin, systemd units (their
#                             # ExecStart pointed there) into
#                             # PREFIX/lib/systemd/system, nginx snippets into
#                             # PREFIX/share/fib-gateway/nginx, and the nginx
#                             # module, when build.sh built it, into MODULEDIR
#
# Sources are found by directory, so adding a .c file needs no edit here:
#   common/*.c                -> $(BUILD)/lib/libcommon.a
#   fibonacci-service/*.c     -> $(BUILD)/bin/fibonacci-service
#   stats-service/*.c         -> $(BUILD)/bin/stats-service
#   tools/*.c                 -> $(BUILD)/bin/<name>  (one program per file)
#   tests/unit/<dir>/test_*.c -> $(BUILD)/tests/<dir>/test_*, linked with that
#                                component's objects except main.o
# proto/**/*.proto are compiled with protoc-c into $(BUILD)/gen.

BUILD   ?= build
CC      ?= cc
SAN     ?=
VERSION ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS    := grpc gpr libprotobuf-c libmicrohttpd
# stats-service's stores (and its unit tests) also need SQLite and libpq.
STORE_PKGS := sqlite3 libpq
WARN    := -Wall -Wextra -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     ?= -O2 -g
ifeq ($(SAN),1)
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
INCS    := -Icommon -I$(BUILD)/gen \
           $(shell pkg-config --cflags $(PKGS) $(STORE_PKGS))
CFLAGS  += $(CSTD) $(OPT) $(SANFLAGS) $(INCS) -DVERSION=\"$(VERSION)\" -MMD -MP
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lgmp -lpthread -lm
STORE_LIBS := $(shell pkg-config --libs $(STORE_PKGS))
# --as-needed: only what each program uses (fibctl serves no metrics)
LDFLAGS += $(SANFLAGS) -Wl,--as-needed

PROTOS  := fibonacci/fib.proto stats/stats.proto grpc/health/v1/health.proto
GEN_C   := $(addprefix $(BUILD)/gen/,$(PROTOS:.proto=.pb-c.c)) \
           $(BUILD)/gen/google/protobuf/empty.pb-c.c
GEN_O   := $(GEN_C:.c=.o)
GEN_STAMP := $(BUILD)/gen/.stamp

COMMON_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard common/*.c))
FIB_O    := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard fibonacci-service/*.c))
STATS_O  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard stats-service/*.c))
TOOLS    := $(patsubst tools/%.c,$(BUILD)/bin/%,$(wildcard tools/*.c))
LIBCOMMON := $(BUILD)/lib/libcommon.a
LIBGEN    := $(BUILD)/lib/libfibproto.a

UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
CHECK_LIBS := $(shell pkg-config --libs check)

BINS := $(BUILD)/bin/fibonacci-service $(BUILD)/bin/stats-service $(TOOLS)
# What `make install` puts in BINDIR: not the benchmarks' tools.
INSTALL_BINS := $(filter-out $(BUILD)/bin/statsbench $(BUILD)/bin/gmpbench,\
                  $(BINS))

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
UNITDIR   ?= $(PREFIX)/lib/systemd/system
SHAREDIR  ?= $(PREFIX)/share/fib-gateway
MODULEDIR ?= $(PREFIX)/lib/nginx/modules
MODULE_SO := $(BUILD)/modules/ngx_http_fib_module.so

.PHONY: all unit-build unit install clean
all: $(BINS)

# --- generated protobuf-c code ------------------------------------------
$(GEN_STAMP): $(addprefix proto/,$(PROTOS))
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --proto_path=/usr/include \
	    --c_out=$(BUILD)/gen $(PROTOS) google/protobuf/empty.proto
	@touch $@
$(GEN_C): $(GEN_STAMP)
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CSTD) $(OPT) $(SANFLAGS) $(INCS) -Wall -c $< -o $@
$(LIBGEN): $(GEN_O)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

# --- our own code ---------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(GEN_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -c $< -o $@

$(LIBCOMMON): $(COMMON_O)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/bin/fibonacci-service: $(FIB_O) $(LIBCOMMON) $(LIBGEN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bin/stats-service: $(STATS_O) $(LIBCOMMON) $(LIBGEN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(STORE_LIBS) $(LDLIBS) -o $@

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(LIBCOMMON) $(LIBGEN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --- unit tests (check) ---------------------------------------------------
$(BUILD)/tests/common/%: $(BUILD)/obj/tests/unit/common/%.o $(LIBCOMMON) $(LIBGEN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(CHECK_LIBS) $(LDLIBS) -o $@
$(BUILD)/tests/fibonacci/%: $(BUILD)/obj/tests/unit/fibonacci/%.o \
        $(filter-out %/main.o,$(FIB_O)) $(LIBCOMMON) $(LIBGEN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(CHECK_LIBS) $(LDLIBS) -o $@
$(BUILD)/tests/stats/%: $(BUILD)/obj/tests/unit/stats/%.o \
        $(filter-out %/main.o,$(STATS_O)) $(LIBCOMMON) $(LIBGEN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(CHECK_LIBS) $(STORE_LIBS) $(LDLIBS) -o $@

# Unit tests include their component's headers by name ("fib_cache.h").
$(BUILD)/obj/tests/unit/fibonacci/%.o: CFLAGS += -Ifibonacci-service
$(BUILD)/obj/tests/unit/stats/%.o: CFLAGS += -Istats-service

unit-build: $(UNIT_BIN)

# Each test binary prints check's own summary line; any failure fails make.
unit: unit-build
	@rc=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || rc=1; done; exit $$rc

# --- install (for systems without the Debian packages) ----------------------
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SHAREDIR)/nginx
	install -m 755 $(INSTALL_BINS) $(DESTDIR)$(BINDIR)/
	for u in conf/systemd/*.service; do \
	    sed 's|/usr/local/bin/|$(BINDIR)/|g' $$u \
	        >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 conf/nginx/*.conf $(DESTDIR)$(SHAREDIR)/nginx/
	@if [ -f $(MODULE_SO) ]; then \
	    echo install -D -m 644 $(MODULE_SO) $(DESTDIR)$(MODULEDIR)/; \
	    install -D -m 644 $(MODULE_SO) \
	        $(DESTDIR)$(MODULEDIR)/ngx_http_fib_module.so; \
	else \
	    echo "make install: no $(MODULE_SO) (./build.sh module builds it)"; \
	fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
