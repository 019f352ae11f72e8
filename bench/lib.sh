# Shared by bench/run_*.sh (sourced): one server under test at a time, its
# process id in SERVER_PID.

SERVER_PID=

# bench_free_port: prints a TCP port free on 127.0.0.1.
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_wait_port PORT LOG: returns once something accepts on 127.0.0.1:PORT
# (within 20 s); if the server exits or never listens, prints LOG and fails.
bench_wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$(basename "$0"): the server did not listen on port $1; its log ($2):" >&2
  cat "$2" >&2
  return 1
}

# bench_start_muonpipe BIN DATA_DIR PORT LOG [SERVE_ARGS...]: `muonpipe serve`
# on 127.0.0.1:PORT in the background (SERVER_PID), once it accepts.
bench_start_muonpipe() {
  local bin=$1 data=$2 port=$3 log=$4
  shift 4
  "$bin" serve --data-dir "$data" --listen "127.0.0.1:$port" --log-level warn "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  bench_wait_port "$port" "$log"
}

# bench_stop_server: SIGTERM, up to 10 s to finish, then SIGKILL. A no-op
# when no server runs.
bench_stop_server() {
  if [ -z "$SERVER_PID" ]; then return 0; fi
  kill "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# bench_admin_key DATA_DIR FIELD: aws_access_key_id or aws_secret_access_key
# of the bootstrap admin key serve wrote to DATA_DIR/admin-credentials.
bench_admin_key() {
  awk -F' *= *' -v k="$2" '$1 == k {print $2}' "$1/admin-credentials"
}
