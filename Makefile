# The two set-up commands: `make run` and `make test`. Both install what is
# missing from Debian's packages, build in Release, then run.
BUILD ?= build
JOBS ?= $(shell nproc)
DB ?= sylva-demo.db

.PHONY: deps build run test bench clean

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# A real search on Fashion-MNIST (the Debian package), 2 workers, a few minutes.
run: build
	rm -f $(DB) $(DB)-wal $(DB)-shm
	$(BUILD)/sylva search --name demo --db $(DB) --space nas-bench-macro --strategy random \
	  --evaluator train --trials 8 --workers 2 --epochs 1 --train-samples 6000 \
	  --val-samples 2000 --test-samples 2000 --seed 1
	$(BUILD)/sylva best --name demo --db $(DB) -n 3

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bash bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
