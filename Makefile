# Värav: the two commands a newcomer needs are `make run` and `make test`.
#
#   make deps     install the Debian packages the build needs (only the missing ones)
#   make build    configure and build everything under build/
#   make test     deps + build + format check + every test suite (ctest)
#   make test-sanitizers  every test suite again, built with ASan and UBSan (in build-asan/)
#   make run      deps + build + start varavd on 127.0.0.1:50051 with the bundled pack
#   make bench    build and run the benchmark suites
#   make fuzz     build the CEL fuzzer with clang (ASan + UBSan) and run it for FUZZ_SECONDS
#   make fuzz-corpus  merge what fuzzing found into tests/fuzz/corpus, minimized
#   make format   rewrite sources with clang-format

SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
VARAV_WERROR ?= OFF
FUZZ_SECONDS ?= 60

# Debian packages the build, the tests and `make run` need.
DEB_PACKAGES := \
  build-essential cmake pkg-config git ca-certificates \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
  libabsl-dev librocksdb-dev libre2-dev libyaml-cpp-dev libssl-dev \
  libgtest-dev libgmock-dev libbenchmark-dev libgoogle-perftools-dev \
  nats-server libnats-dev python3-grpcio python3-protobuf python3-yaml \
  clang clang-format libclang-rt-14-dev nodejs

SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: deps build test test-sanitizers run bench fuzz fuzz-corpus format format-check clean

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	else echo "all build packages present"; fi
	@# Some Node.js builds bundle npm; Debian's splits it into its own package.
	@command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q npm

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DVARAV_WERROR=$(VARAV_WERROR) \
	  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake -S . -B $(BUILD_DIR) -DVARAV_WERROR=$(VARAV_WERROR) >/dev/null
	cmake --build $(BUILD_DIR) -j$(JOBS)

format-check:
	@files=$$(git ls-files '*.cc' '*.h'); \
	if [ -n "$$files" ]; then \
	  clang-format --dry-run --Werror $$files && echo "clang-format: clean"; \
	fi

format:
	git ls-files '*.cc' '*.h' | xargs -r clang-format -i

test: deps format-check build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 1800

# The same suites built with AddressSanitizer and UndefinedBehaviorSanitizer (gcc's), so that a
# memory error, a leak or undefined behaviour in Värav's code fails the run wherever a test
# reaches it, including inside the varavd processes the integration tests start. Debian's
# libraries are not instrumented; tcmalloc is left out because ASan brings its own allocator.
# A separate build directory: the build takes about twice as long as the plain one.
ASAN_BUILD_DIR ?= build-asan
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

test-sanitizers: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVARAV_WERROR=$(VARAV_WERROR) \
	  -DVARAV_TCMALLOC=OFF -DVARAV_BENCH=OFF -DCMAKE_CXX_FLAGS="$(SANITIZE)" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
	  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
	cmake --build $(ASAN_BUILD_DIR) -j$(JOBS)
	cd $(ASAN_BUILD_DIR) && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 3600

# varavd on 127.0.0.1:50051 with the store under ./var/data and the bundled packs. The first run
# creates ./var/principals.yaml with a development admin and prints its token once (it is also
# saved to ./var/dev-admin-token, which varavctl reads). Ctrl-C drains and stops the server.
run: deps build
	@mkdir -p var
	$(BUILD_DIR)/services/server/varavd --listen=127.0.0.1:50051 --data_dir=var/data \
	  --rules_dir=rules --principals_file=var/principals.yaml --init_dev_principals \
	  --dev_admin_token_file=var/dev-admin-token

bench: deps build
	$(BUILD_DIR)/bench/cel_bench --benchmark_min_time=0.5

fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DVARAV_FUZZ=ON -DBUILD_TESTING=OFF
	cmake --build build-fuzz -j$(JOBS) --target cel_fuzz
	mkdir -p build-fuzz/corpus
	build-fuzz/tests/fuzz/cel_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  build-fuzz/corpus tests/fuzz/corpus

# Keeps only inputs that add coverage, capped at 512 bytes so the checked-in corpus stays small.
fuzz-corpus:
	mkdir -p build-fuzz/merged
	build-fuzz/tests/fuzz/cel_fuzz -merge=1 -max_len=512 build-fuzz/merged tests/fuzz/corpus \
	  build-fuzz/corpus
	cp -n build-fuzz/merged/* tests/fuzz/corpus/

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) build-fuzz
