# scripts/mk/fuzz.mk — libFuzzer targets for the engine's parsers (included by the
# Makefile, which defines LIB_SRCS, WARN, ENG_CFLAGS and ENG_LIBS).
#
#   make fuzz                 build every target, run each for FUZZ_SECONDS,
#                             fail if one finds a crash (its input is kept in
#                             build-fuzz/artifacts/<target>/)
#   make fuzz-bins            build only
#   make fuzz FUZZ_TARGETS=csv FUZZ_SECONDS=600
#
# Targets (spec/fuzz/fuzz_<target>.c, seeds in spec/fuzz/corpus/<target>/, a
# dictionary in spec/fuzz/<target>.dict when there is one): idx, idx_gz, npy,
# csv and safetensors; results, the results reader (JSON and CSV curves,
# lrengine.results through the Lua binding) and the figure drawn from what
# it reads (the plot library), built with the binding and the plot library. The engine is rebuilt in build-fuzz/ with clang
# -fsanitize=fuzzer-no-link,address,undefined; each run grows its corpus in
# build-fuzz/corpus/<target>/ (the seeds in the repository are only read).
# clang's libFuzzer runtime is in Debian's libclang-rt-14-dev (scripts/deps.sh).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz

ifneq ($(shell echo '$(FUZZ_SECONDS)' | grep -Eq '^[1-9][0-9]*$$' && echo ok),ok)
  $(error FUZZ_SECONDS must be a positive number of seconds (got '$(FUZZ_SECONDS)'))
endif

FUZZ_ALL := idx idx_gz npy csv safetensors results
FUZZ_TARGETS ?= $(FUZZ_ALL)
ifneq ($(filter-out $(FUZZ_ALL),$(FUZZ_TARGETS)),)
  $(error FUZZ_TARGETS: unknown '$(filter-out $(FUZZ_ALL),$(FUZZ_TARGETS))' (known: $(FUZZ_ALL)))
endif

FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 $(WARN) -g -O1 -D_POSIX_C_SOURCE=200809L -MMD -MP \
               -Iengine -Iengine/include $(ENG_CFLAGS) $(FUZZ_SAN)
FUZZ_OBJS   := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(LIB_SRCS))
FUZZ_LIB    := $(FUZZ_BUILD)/liblrengine.a
FUZZ_LUA_LIB  := $(FUZZ_BUILD)/liblrengine_lua.a
FUZZ_PLOT_LIB := $(FUZZ_BUILD)/liblrengine_plot.a
FUZZ_BINS    = $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-bins
fuzz-bins: $(FUZZ_BINS)

# the binding's and the figure's own headers, as in the main build
$(FUZZ_BUILD)/obj/engine/lua/%.o: FUZZ_GROUP = $(LUA_CFLAGS)
$(FUZZ_BUILD)/obj/engine/plot/%.o: FUZZ_GROUP = $(PLOT_CFLAGS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_GROUP) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_LUA_LIB): $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(LUA_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_PLOT_LIB): $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(PLOT_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^

# the results reader runs the Lua modules of this tree (lua/)
$(FUZZ_BUILD)/fuzz_results: spec/fuzz/fuzz_results.c $(FUZZ_LUA_LIB) $(FUZZ_PLOT_LIB) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(LUA_CFLAGS) -DLRE_SOURCE_LUA_DIR='"$(CURDIR)/lua"' \
	    -fsanitize=fuzzer -o $@ $< $(FUZZ_LUA_LIB) $(FUZZ_PLOT_LIB) $(FUZZ_LIB) $(ENG_LIBS) \
	    $(PLOT_LIBS) $(LUA_LIBS)

$(FUZZ_BUILD)/fuzz_%: spec/fuzz/fuzz_%.c spec/fuzz/fuzz_common.h $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(ENG_LIBS)

-include $(wildcard $(FUZZ_BUILD)/obj/*/*.d $(FUZZ_BUILD)/fuzz_*.d)

# One target after another; a crash, leak or sanitizer report stops the run
# with the reproducer's path and libFuzzer's report.
fuzz: fuzz-bins
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
	    dict=; [ -f spec/fuzz/$$t.dict ] && dict=-dict=spec/fuzz/$$t.dict; \
	    log=$(FUZZ_BUILD)/fuzz_$$t.log; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s (log: $$log)"; \
	    if ! LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	        $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_BUILD)/corpus/$$t spec/fuzz/corpus/$$t $$dict \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ -print_final_stats=1 \
	        >$$log 2>&1; then \
	        tail -n 60 $$log; \
	        echo "fuzz: $$t FAILED; reproduce with $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_BUILD)/artifacts/$$t/<file>"; \
	        exit 1; \
	    fi; \
	    grep -E '^stat::number_of_executed_units|^stat::new_units_added' $$log | \
	        sed "s/^/fuzz: $$t: /"; \
	done; echo "fuzz: all targets ran clean"
