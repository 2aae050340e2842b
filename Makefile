# Thin wrapper over CMake. `make demo` and `make test` are the README's quick start.
BUILD ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all deps configure build demo test test-release test-sanitize test-tsan clean format

all: build

deps:
	@bash third_party/install.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) --log-level=WARNING

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/skein classify --model models/code-lang --profile --repeat 5 models/code-lang/examples/*

# The whole suite on the Release build, then the unit tests and the CLI's tests
# (bad input, the attention and approx commands, ListOps, profile outputs) under ASan + UBSan,
# the fuzzers for a short bounded time and the concurrency stress test under TSan.
test: test-release test-sanitize test-fuzz test-tsan

test-release: build
	cd $(BUILD) && ctest --output-on-failure

test-sanitize: deps
	@cmake -S . -B $(BUILD)-sanitize -DCMAKE_BUILD_TYPE=Debug -DSKEIN_SANITIZE=ON --log-level=WARNING
	@cmake --build $(BUILD)-sanitize -j $(JOBS) --target skein_tests skein
	cd $(BUILD)-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -R '^(unit|cli|attention_cli|approx_cli|listops_cli|profile_outputs)$$'

# tests/stress/concurrency_stress under ThreadSanitizer (g++); any report fails it.
# Sessions use 1 OpenMP thread each, so libgomp (not TSan-instrumented) runs
# their regions inline; no suppressions are needed.
test-tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS=-fsanitize=thread -O1 -g" \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread --log-level=WARNING
	@cmake --build $(BUILD)-tsan -j $(JOBS) --target concurrency_stress
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" ./$(BUILD)-tsan/tests/stress/concurrency_stress

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize $(BUILD)-fuzz $(BUILD)-tsan

include tests/fuzz/fuzz.mk
