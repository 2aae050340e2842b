# libFuzzer targets (tests/fuzz), included by the top-level Makefile.
#   make fuzz                    each target for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="model_json"
#   make test-fuzz               each target for FUZZ_CI_SECONDS (part of `make test`)
# Built by clang++ with ASan + UBSan + libFuzzer in $(BUILD)-fuzz.
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 20
FUZZ_TARGETS ?= safetensors model_json text_input

.PHONY: fuzz-build fuzz test-fuzz

fuzz-build: deps
	@cmake -S . -B $(BUILD)-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DSKEIN_FUZZ=ON --log-level=WARNING
	@cmake --build $(BUILD)-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	bash tests/fuzz/run_fuzzers.sh $(BUILD)-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz: fuzz-build
	bash tests/fuzz/run_fuzzers.sh $(BUILD)-fuzz $(FUZZ_CI_SECONDS) $(FUZZ_TARGETS)
