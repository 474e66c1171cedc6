# scripts/mk/data.mk — data-layer helpers (included by the Makefile, which defines
# BUILD and the bench binaries' rule).
#
#   make data          is Fashion-MNIST where lre.data.fashion_mnist looks
#                      ($LRENGINE_DATA, $LRENGINE_DATA/fashion-mnist, then
#                      /usr/share/datasets/fashion-mnist)? Says where, or how
#                      to install it, and fails when it is missing.
#   make bench-data    build and run only the data benchmark
#                      (scripts/bench_data.c: load time, memory, gather rate)
#   make fuzz-corpus   rewrite the fuzz seed corpora (spec/fuzz/make_corpus.py)

FMNIST_SYSTEM_DIR := /usr/share/datasets/fashion-mnist
FMNIST_DIRS = $(if $(LRENGINE_DATA),$(LRENGINE_DATA) $(LRENGINE_DATA)/fashion-mnist) \
              $(FMNIST_SYSTEM_DIR)

.PHONY: data bench-data fuzz-corpus
data:
	@for d in $(FMNIST_DIRS); do \
	    for s in train t10k; do \
	        for k in images-idx3 labels-idx1; do \
	            f=$$d/$$s-$$k-ubyte; [ -r $$f.gz ] || [ -r $$f ] || continue 3; \
	        done; \
	    done; \
	    echo "data: Fashion-MNIST found in $$d"; exit 0; \
	done; \
	echo "data: Fashion-MNIST not found (searched: $(strip $(FMNIST_DIRS)))" >&2; \
	echo "data: install it with: apt-get install dataset-fashion-mnist (or make deps)," >&2; \
	echo "      or set LRENGINE_DATA to a directory holding the four IDX files" >&2; \
	exit 1

bench-data: $(BUILD)/bench/bench_data
	$(BUILD)/bench/bench_data

fuzz-corpus:
	python3 spec/fuzz/make_corpus.py
