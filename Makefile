# hangdoi: `make run` starts the daemon with the demo catalogue; `make test` runs every test.
CC ?= cc
PKGS = libmicrohttpd libuv jansson sqlite3 libcrypto libsystemd libutf8proc libqrencode libcurl
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The allocator: mimalloc in place of glibc's malloc, process-wide (as Redis links jemalloc).
# SQLite (Debian's is built without its lookaside), jansson and libmicrohttpd allocate a
# hundred small blocks a booking: in 7 paired runs of `bench/run book` the daemon spent 8 % less
# CPU a booking with mimalloc (0 to 21 % by pair). `make MALLOC=system` keeps glibc's; the
# sanitizer build does, as its own allocator must see every block (valgrind is told to replace
# mimalloc's, tests/run).
MALLOC ?= mimalloc
LDLIBS += $(if $(filter mimalloc,$(MALLOC)),-lmimalloc) $(shell pkg-config --libs $(PKGS) 2>/dev/null)
B ?= build

SRC = $(wildcard src/*.c)
LIBSRC = $(filter-out src/main.c src/mkbuiltin.c,$(SRC))
EMBED = $(sort $(wildcard sql/*.sql) $(wildcard web/*))
OBJ = $(LIBSRC:src/%.c=$(B)/obj/%.o) $(B)/obj/embedded.o
UNIT = $(patsubst tests/unit/%.c,$(B)/%,$(wildcard tests/unit/test_*.c))

# Debian packages the build, the tests and the benchmark need.
DEB_BUILD = build-essential pkg-config libmicrohttpd-dev libuv1-dev libjansson-dev libsqlite3-dev libssl-dev libsystemd-dev libutf8proc-dev libqrencode-dev libcurl4-openssl-dev libmimalloc-dev
DEB_TEST = libcmocka-dev python3 python3-pytest curl valgrind sqlite3 chromium systemd
DEB_BENCH = wrk

.PHONY: all bins run test unit integration asan valgrind browser bench check format install deps deps-test clean

all: $(B)/hangdoid

# The daemon and the unit test binaries.
bins: all $(UNIT)

$(B)/obj/%.o: src/%.c $(wildcard include/*.h) | $(B)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj:
	mkdir -p $@

$(B)/mkbuiltin: src/mkbuiltin.c | $(B)/obj
	$(CC) -O1 -Wall -Wextra -Werror -o $@ $<

$(B)/embedded.c: $(B)/mkbuiltin $(EMBED)
	$(B)/mkbuiltin $@ $(EMBED)

$(B)/obj/embedded.o: $(B)/embedded.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libhangdoi.a: $(OBJ)
	ar rcs $@ $^

# Names the allocator linked last: another MALLOC makes a newer stamp, and everything relinks.
$(B)/malloc.$(MALLOC): | $(B)/obj
	rm -f $(B)/malloc.*
	touch $@

$(B)/hangdoid: $(B)/obj/main.o $(B)/libhangdoi.a $(B)/malloc.$(MALLOC)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(B)/obj/main.o $(B)/libhangdoi.a $(LDLIBS)

$(B)/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(B)/libhangdoi.a $(B)/malloc.$(MALLOC)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libhangdoi.a $(LDLIBS) -lcmocka

# Installs what is missing (Debian packages, as root), then the npm package the browser tests drive.
deps:
	@missing=$$(for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages: $$missing (run as root, or: sudo apt-get install $$missing)"; exit 1; fi; fi

# Node.js may come from elsewhere than Debian (its npm bundled): Debian's nodejs and npm are
# asked for only when the commands are missing, so that apt never fights another Node.
deps-test: deps
	@missing=$$(for p in $(DEB_TEST); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
	  command -v node >/dev/null || echo nodejs; command -v npm >/dev/null || echo npm); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages: $$missing"; exit 1; fi; fi
	@[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm install --no-audit --no-fund --silent)

run: deps
	$(MAKE) all
	mkdir -p var
	$(B)/hangdoid --config config/hangdoi.json

test: deps-test
	$(MAKE) all
	$(MAKE) $(UNIT)
	tests/run

unit: all $(UNIT)
	tests/run unit

asan:
	$(MAKE) B=build/asan MALLOC=system CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" bins

bench: deps
	@for p in $(DEB_BENCH); do dpkg -s $$p >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p); done
	$(MAKE) all
	bench/run

check: all
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr --suppress=unknownMacro -Iinclude src
	@out=$$(clang-tidy --quiet $(SRC) -- -std=c11 -D_GNU_SOURCE -Iinclude $$(pkg-config --cflags $(PKGS)) 2>/dev/null | grep -E 'warning:|error:'); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; else echo "clang-tidy: clean"; fi

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c

PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(B)/hangdoid $(DESTDIR)$(PREFIX)/bin/hangdoid
	install -D -m 0640 config/hangdoi.json $(DESTDIR)/etc/hangdoi/hangdoi.json.example
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/hangdoi/README.md
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/|$(PREFIX)/|g' systemd/hangdoi.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/hangdoi.service
	install -m 0644 systemd/hangdoi.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/hangdoi.socket

clean:
	rm -rf build
