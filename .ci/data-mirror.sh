# Réplica local de los datos: simula un runner de GitHub, que no tiene ../shared/data.
# La usa .ci/run (y la prueba tests/test_data_fetch.py). Uso:
#   source .ci/data-mirror.sh
#   start_data_mirror CARPETA
# Sirve CARPETA en 127.0.0.1 (un puerto libre) en segundo plano; quita LABCODE_DATA;
# exporta LABCODE_DATA_URL (la réplica) y LABCODE_CACHE (una carpeta temporal nueva)
# y deja una trampa EXIT que apaga el servidor y borra esa caché. Así los datos se
# descargan y se comprueban con su hash como en GitHub, sólo que desde la réplica.

start_data_mirror() {
  local dir="$1" port="" _
  if [ ! -d "$dir" ]; then
    echo "start_data_mirror: no existe la carpeta de datos a servir: $dir" >&2
    return 1
  fi
  unset LABCODE_DATA
  LABCODE_CACHE="$(mktemp -d "${TMPDIR:-/tmp}/labcode-cache.XXXXXX")"
  export LABCODE_CACHE
  DATA_MIRROR_LOG="$LABCODE_CACHE.mirror.log"
  "${PYTHON:-python3}" -u -m http.server 0 --bind 127.0.0.1 --directory "$dir" \
    >"$DATA_MIRROR_LOG" 2>&1 &
  DATA_MIRROR_PID=$!
  trap stop_data_mirror EXIT
  for _ in $(seq 100); do
    port="$(sed -n 's/^Serving HTTP on .* port \([0-9][0-9]*\) .*/\1/p' "$DATA_MIRROR_LOG")"
    [ -n "$port" ] && break
    kill -0 "$DATA_MIRROR_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "start_data_mirror: no arrancó el servidor de la réplica:" >&2
    cat "$DATA_MIRROR_LOG" >&2
    return 1
  fi
  export LABCODE_DATA_URL="http://127.0.0.1:$port"
}

stop_data_mirror() {
  if [ -n "${DATA_MIRROR_PID:-}" ]; then
    kill "$DATA_MIRROR_PID" 2>/dev/null || true
    wait "$DATA_MIRROR_PID" 2>/dev/null || true
    DATA_MIRROR_PID=""
  fi
  rm -rf "${LABCODE_CACHE:?}" "${DATA_MIRROR_LOG:-}"
}
