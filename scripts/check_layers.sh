#!/usr/bin/env bash
# check_layers.sh — the engine's folders are its layers (README.md, "Layout"); a file
# includes only headers of its own layer or of the layers below it, and only
# the binding and the command see Lua, only plot/ sees cairo. Prints each
# offending #include and exits 1 if there is one.
#
#   layer      may include (quoted headers, besides the public lrengine.h)
#   backend/   backend/
#   core/      backend/ core/
#   nn/        backend/ core/ nn/
#   data/      backend/ core/ data/
#   train/     backend/ core/ nn/ data/ train/
#   plot/      lrengine_plot.h, and lrengine.h for its one writer (lre_write_file)
#   lua/       the public headers and lua/ (the binding sees no private header)
#   cli/       the public headers and lua/
set -u
cd "$(dirname "$0")/.."

allowed() { # folder -> space-separated prefixes of allowed quoted includes
    case "$1" in
    backend) echo "lrengine.h backend/" ;;
    core)    echo "lrengine.h backend/ core/" ;;
    nn)      echo "lrengine.h backend/ core/ nn/" ;;
    data)    echo "lrengine.h backend/ core/ data/" ;;
    train)   echo "lrengine.h backend/ core/ nn/ data/ train/" ;;
    plot)    echo "lrengine_plot.h lrengine.h" ;;
    lua)     echo "lrengine.h lrengine_lua.h lrengine_plot.h lrelua.h lua/" ;;
    cli)     echo "lrengine.h lrengine_lua.h lrengine_plot.h lua/" ;;
    include) echo "lrengine.h lrengine_lua.h lrengine_plot.h" ;;
    *)       echo "?" ;;
    esac
}

bad=0
while IFS= read -r f; do
    rel=${f#engine/}
    layer=${rel%%/*}
    # files under backend/cuda/ are the backend layer too
    ok=$(allowed "$layer")
    if [ "$ok" = "?" ]; then
        echo "check_layers: $f: not in a known layer folder ($rel)"; bad=1; continue
    fi
    while IFS= read -r line; do
        n=${line%%:*}
        hdr=$(sed -E 's/^[^"]*"([^"]+)".*/\1/' <<<"${line#*:}")
        pass=0
        for p in $ok; do
            case "$hdr" in "$p"*) pass=1 ;; esac
            # a header of the file's own folder, named without the folder
            [ -f "$(dirname "$f")/$hdr" ] && [ "$(dirname "$f")" = "engine/$layer" ] && pass=1
        done
        if [ $pass = 0 ]; then
            echo "check_layers: $f:$n includes \"$hdr\", above or beside layer $layer/"
            bad=1
        fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
    case "$rel" in
    lua/*|cli/*|include/lrengine_lua.h) ;;  # the binding, the command, the embedding API
    *) if grep -nE '#[[:space:]]*include[[:space:]]*<(lua|lauxlib|lualib)\.h>' "$f" >/dev/null; then
           echo "check_layers: $f includes a Lua header (only engine/lua/ and engine/cli/ may)"; bad=1
       fi ;;
    esac
    if [ "$layer" != plot ] && grep -nE '#[[:space:]]*include[[:space:]]*<cairo' "$f" >/dev/null; then
        echo "check_layers: $f includes cairo (only engine/plot/ may)"; bad=1
    fi
done < <(find engine -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort)

if [ $bad = 0 ]; then echo "check_layers: every engine include goes down the layers"; fi
exit $bad
