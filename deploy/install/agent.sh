#!/bin/sh
# Installs the CCTV node agent on a Debian or Raspberry Pi OS (64-bit) host without Ansible, from
# the master that served this script (docs/adr/0016-one-line-agent-install.md). Run by the
# install line an admin gets from the master (POST /api/nodes/<id>/install-token), as root:
#
#   CCTV_INSTALL_TOKEN=<token> sh agent.sh --master https://<master>:8080 --ca <verified CA file>
#
# In order: the token is checked at the master (a used, expired or unknown token stops here,
# before anything is installed); Node.js (20 or later) and ffmpeg come from apt-get only when
# missing; the agent release for this CPU is downloaded from the master and checked against its
# sha256; the service user and folders are made; the node is enrolled (the token is used up);
# the configuration, the systemd unit (the same as roles/node_agent's) and log rotation are
# written; the agent starts, and the script waits until the master reports the node online.
#
# Options (the paths and names default to those of deploy/ansible/roles/node_agent):
#   --master URL        the master's HTTPS URL (required)
#   --ca FILE           the master's CA certificate, already checked against its fingerprint
#   --token TOKEN       the enrolment token (better: CCTV_INSTALL_TOKEN, not seen in ps)
#   --prefix DIR        install prefix (/opt/cctv-agent)
#   --service-name NAME systemd unit name (cctv-agent)
#   --config-dir DIR    configuration, credentials and CA (/etc/cctv-agent)
#   --state-dir DIR     state and spool (/var/lib/cctv-agent)
#   --log-dir DIR       agent.log (/var/log/cctv-agent)
#   --wait SECONDS      how long to wait for the node to come online (180; 0: do not wait)
#   --print-unit        print the systemd unit these options give (and --node-id ID), and stop
#   --print-logrotate   print the log rotation these options give, and stop
#
# The whole script is one function called on its last line: a download cut short runs nothing.

main() {
  set -eu
  umask 022

  master='' ca_file='' token="${CCTV_INSTALL_TOKEN:-}" node_id=''
  # What a refusal of the master leaves behind, told with it.
  left='Nothing was installed or changed.'
  prefix=/opt/cctv-agent
  service_name=cctv-agent
  config_dir=/etc/cctv-agent
  state_dir=/var/lib/cctv-agent
  log_dir=/var/log/cctv-agent
  user=cctv-agent
  group=cctv-agent
  supplementary_groups=video
  systemd_dir=/etc/systemd/system
  logrotate_dir=/etc/logrotate.d
  wait_s=180
  print_unit=false
  # The same limits as roles/node_agent/defaults/main.yml (test/deploy/one-line-install.test.ts
  # renders both units and compares them).
  restart_sec=2
  memory_high=768M
  memory_max=1G
  cpu_quota=300%
  tasks_max=1024
  nofile=65536
  stop_timeout_sec=30
  recorder_handoff_s=30
  log_rotate_size=20M
  log_rotate_keep=7
  packages='ffmpeg fonts-dejavu-core logrotate'

  while [ $# -gt 0 ]; do
    case "$1" in
      --master) master="${2%/}"; shift 2 ;;
      --ca) ca_file="$2"; shift 2 ;;
      --token) token="$2"; shift 2 ;;
      --prefix) prefix="${2%/}"; shift 2 ;;
      --service-name) service_name="$2"; shift 2 ;;
      --config-dir) config_dir="${2%/}"; shift 2 ;;
      --state-dir) state_dir="${2%/}"; shift 2 ;;
      --log-dir) log_dir="${2%/}"; shift 2 ;;
      --wait) wait_s="$2"; shift 2 ;;
      --node-id) node_id="$2"; shift 2 ;;
      --print-unit) print_unit=unit; shift ;;
      --print-logrotate) print_unit=logrotate_conf; shift ;;
      *) fail "unknown option $1 (see the head of this script)" ;;
    esac
  done
  node_bin="$prefix/node/current/bin/node"
  config_file="$config_dir/agent.yaml"

  if [ "$print_unit" != false ]; then
    "$print_unit"
    return 0
  fi

  [ "$(id -u)" = 0 ] || fail "run the install line as root (sudo sh -c '<line>')"
  [ -n "$master" ] || fail '--master is required'
  [ -n "$token" ] || fail 'no enrolment token (CCTV_INSTALL_TOKEN or --token)'
  [ -n "$ca_file" ] && [ -s "$ca_file" ] || fail "--ca must name the master's CA certificate"
  case "$prefix$config_dir$state_dir$log_dir" in *[!A-Za-z0-9/._-]*) fail 'paths may hold only letters, digits and / . _ -' ;; esac
  case "$service_name" in *[!A-Za-z0-9_.@-]*|'') fail "bad service name $service_name" ;; esac
  for tool in curl sha256sum tar systemctl; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing"
  done
  # The userland's architecture, not the kernel's: a 32-bit Raspberry Pi OS may run a 64-bit kernel.
  host_arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case "$host_arch" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) fail "this host is $host_arch; agent releases are for x86_64 and aarch64 (a 64-bit OS) only" ;;
  esac
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT

  # 1. The token, before anything is installed.
  say "checking the install token at $master"
  api POST /install/check "{\"token\":\"$(json_escape "$token")\",\"arch\":\"$arch\"}" "$work/check.json"
  node_id=$(json_field nodeId "$work/check.json")
  version=$(json_field version "$work/check.json")
  release_file=$(json_field file "$work/check.json")
  release_sha256=$(json_field sha256 "$work/check.json")
  expires=$(json_field expiresAt "$work/check.json")
  case "$node_id" in '' | *[!a-z0-9-]*) fail "the master named no valid node id" ;; esac
  case "$release_file" in "cctv-agent-$version-linux-$arch.tar.gz") ;; *) fail "unexpected release name $release_file" ;; esac
  say "node $node_id, agent $version for linux-$arch (the token works until $expires)"

  # 2. Debian packages and Node.js, from apt-get, only what is missing.
  missing=''
  for p in $packages; do
    dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing="$missing $p"
  done
  system_node=$(command -v node 2>/dev/null || true)
  if [ -z "$system_node" ] || ! node_recent "$system_node"; then missing="$missing nodejs"; fi
  if [ -n "$missing" ]; then
    say "installing with apt-get:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  fi
  system_node=$(command -v node 2>/dev/null || true)
  if [ -z "$system_node" ] || ! node_recent "$system_node"; then
    fail "Node.js 20 or later is needed; this host has $("${system_node:-false}" --version 2>/dev/null || echo none). Install it (nodejs.org or NodeSource), then run the same line again: the token is still unused"
  fi

  # 3. The release, checked against the sha256 the master named.
  mkdir -p "$prefix/downloads" "$prefix/releases" "$prefix/node/system/bin"
  chmod 0755 "$prefix" "$prefix/downloads" "$prefix/releases" "$prefix/node"
  release_dir="$prefix/releases/cctv-agent-$version-linux-$arch"
  if [ ! -f "$release_dir/package.json" ]; then
    say "downloading $release_file"
    curl -fsS --cacert "$ca_file" -o "$prefix/downloads/$release_file" "$master/install/releases/$arch?version=$version" ||
      fail "could not download $release_file from $master"
    echo "$release_sha256  $prefix/downloads/$release_file" | sha256sum -c --quiet ||
      fail "$release_file does not match its sha256 ($release_sha256): not installed"
    tar -xzf "$prefix/downloads/$release_file" -C "$prefix/releases" --no-same-owner
    rm -f "$prefix/downloads/$release_file"
    [ -f "$release_dir/dist/main.mjs" ] || fail "$release_file holds no dist/main.mjs"
  fi
  # Node.js as the Ansible role lays it out (<prefix>/node/current/bin/node): here the system's.
  ln -sfn "$system_node" "$prefix/node/system/bin/node"
  ln -sfn system "$prefix/node/current.new" && mv -T "$prefix/node/current.new" "$prefix/node/current"

  # 4. The service user and folders (as roles/node_agent/tasks/user.yml).
  getent group "$group" >/dev/null || groupadd --system "$group"
  if ! id "$user" >/dev/null 2>&1; then
    useradd --system --gid "$group" --shell /usr/sbin/nologin --home-dir "$state_dir" --no-create-home "$user"
  fi
  for g in $supplementary_groups; do
    if getent group "$g" >/dev/null; then usermod -a -G "$g" "$user"; fi
  done
  install -d -o root -g "$group" -m 0750 "$config_dir" "$log_dir"
  install -d -o root -g root -m 0755 "$config_dir/tls"
  install -d -o "$user" -g "$group" -m 0750 "$state_dir" "$state_dir/spool"
  install -o root -g root -m 0644 "$ca_file" "$config_dir/tls/ca.crt"

  # 5. Enrolment: the token is used up; the master answers the node's credential.
  say "enrolling node $node_id"
  left="Node.js, ffmpeg and the release are in place, but the node is neither enrolled nor started."
  api POST /install/enrol "{\"token\":\"$(json_escape "$token")\",\"hostname\":\"$(json_escape "$(hostname)")\"}" "$work/enrol.json"
  CONFIG_DIR="$config_dir" STATE_DIR="$state_dir" RECORDER_HANDOFF_S="$recorder_handoff_s" "$node_bin" - "$work/enrol.json" "$work/agent.yaml" "$work/credentials.json" <<'NODE'
const fs = require('node:fs');
const [enrolFile, yamlFile, credentialsFile] = process.argv.slice(2);
const e = JSON.parse(fs.readFileSync(enrolFile, 'utf8'));
const dir = process.env.CONFIG_DIR;
const state = process.env.STATE_DIR;
// Master-managed (docs/adr/0015): no `cameras` key; the node records a simulated camera until
// cameras are added on the dashboard's cameras page.
const config = {
  nodeId: e.nodeId,
  management: 'master',
  mqtt: { url: e.mqttUrl, username: e.username, password: e.password },
  gateway: { url: e.gatewayUrl, token: e.uploadToken },
  tls: { ca: `${dir}/tls/ca.crt` },
  stateDir: state,
  spool: { dir: `${state}/spool`, quotaBytes: 2147483648 },
  httpPort: 9464,
  // A restart or an upgrade leaves no gap in the footage (the role's node_agent_recorder_handoff_s).
  recorder: { handoffS: Number(process.env.RECORDER_HANDOFF_S) },
};
// YAML, every string double-quoted (JSON strings are YAML strings).
const yaml = (o, indent = '') =>
  Object.entries(o)
    .map(([k, v]) =>
      v !== null && typeof v === 'object'
        ? `${indent}${k}:\n${yaml(v, `${indent}  `)}`
        : `${indent}${k}: ${JSON.stringify(v)}\n`,
    )
    .join('');
const head = '# Written by the one-line install (deploy/install/agent.sh); keys: node-agent/README.md\n';
fs.writeFileSync(yamlFile, head + yaml(config), { mode: 0o600 });
fs.writeFileSync(
  credentialsFile,
  `${JSON.stringify({ username: e.username, password: e.password, uploadToken: e.uploadToken }, null, 2)}\n`,
  { mode: 0o600 },
);
NODE
  "$node_bin" "$release_dir/dist/main.mjs" --check-config --config "$work/agent.yaml" >/dev/null ||
    fail "the agent refuses the configuration it was given (see above)"
  install -o root -g "$group" -m 0640 "$work/agent.yaml" "$config_file"
  install -o root -g root -m 0600 "$work/credentials.json" "$config_dir/credentials.json"
  upload_token=$(json_field uploadToken "$work/enrol.json")

  # 6. The release, the unit and log rotation; the agent (re)starts.
  ln -sfn "releases/cctv-agent-$version-linux-$arch" "$prefix/current.new" && mv -T "$prefix/current.new" "$prefix/current"
  unit >"$work/unit"
  install -o root -g root -m 0644 "$work/unit" "$systemd_dir/$service_name.service"
  logrotate_conf >"$work/logrotate"
  install -o root -g root -m 0644 "$work/logrotate" "$logrotate_dir/$service_name"
  systemctl daemon-reload
  systemctl enable "$service_name.service" >/dev/null 2>&1
  systemctl restart "$service_name.service"
  say "started $service_name.service"

  # 7. Online at the master with this version, or a clear word after --wait seconds.
  [ "$wait_s" -gt 0 ] || return 0
  # Headers from a file: secrets stay off curl's command line (ps shows it to every user).
  printf 'Authorization: Bearer %s\n' "$upload_token" >"$work/auth"
  waited=0
  while :; do
    state=''
    if curl -fsS --cacert "$ca_file" -H "@$work/auth" \
      -o "$work/status.json" "$master/install/nodes/$node_id/status" 2>/dev/null; then
      state=$(json_field state "$work/status.json")
      running=$(json_field agentVersion "$work/status.json")
      if [ "$state" = online ] && [ "$running" = "$version" ]; then
        say "node $node_id is online at the master with agent $version"
        return 0
      fi
    fi
    [ "$waited" -lt "$wait_s" ] || break
    sleep 2
    waited=$((waited + 2))
  done
  fail "node $node_id is installed and its service started, but the master does not report it online after ${wait_s} s (state: ${state:-no answer}). See: systemctl status $service_name; $log_dir/agent.log"
}

# The systemd unit: deploy/ansible/roles/node_agent/templates/agent.service.j2 with the same
# values, line for line (test/deploy/one-line-install.test.ts compares them).
# Node's options are the role's node_agent_node_flags: V8 sized for a small host (ADR 0022).
unit() {
  cat <<EOF
# Written by the one-line install (deploy/install/agent.sh)
[Unit]
Description=CCTV node agent $node_id
Wants=network-online.target
After=network-online.target
# Keep trying for ever: a camera host has no one to start it by hand.
StartLimitIntervalSec=0

[Service]
Type=simple
User=$user
Group=$group
EOF
  [ -z "$supplementary_groups" ] || echo "SupplementaryGroups=$supplementary_groups"
  cat <<EOF
WorkingDirectory=$state_dir
Environment=NODE_ENV=production
ExecStart=$node_bin --max-semi-space-size=1 --v8-pool-size=1 $prefix/current/dist/main.mjs --config $config_file
# SIGHUP reloads the cameras from the configuration file.
ExecReload=/bin/kill -HUP \$MAINPID
KillSignal=SIGTERM
EOF
  [ "$recorder_handoff_s" -le 0 ] || cat <<EOF
# Only the agent is stopped: each camera's recording ffmpeg goes on for
# $recorder_handoff_s s for the next agent to take over (a restart or an upgrade
# leaves no gap in the footage), and ends by itself when no agent comes.
KillMode=process
EOF
  cat <<EOF
TimeoutStopSec=$stop_timeout_sec
Restart=always
RestartSec=$restart_sec
StandardOutput=append:$log_dir/agent.log
StandardError=inherit

# Resource limits: the host also runs the cameras' ffmpeg processes under this unit.
MemoryHigh=$memory_high
MemoryMax=$memory_max
CPUQuota=$cpu_quota
TasksMax=$tasks_max
LimitNOFILE=$nofile

# Hardening: the agent writes only its state, spool and logs.
NoNewPrivileges=true
ProtectSystem=full
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
EOF
}

# Log rotation: roles/node_agent/templates/logrotate.j2 with the same values.
logrotate_conf() {
  cat <<EOF
# Written by the one-line install (deploy/install/agent.sh)
$log_dir/*.log {
    size $log_rotate_size
    rotate $log_rotate_keep
    missingok
    notifempty
    compress
    delaycompress
    # The agent keeps its log open (systemd appends to it): copy, then truncate.
    copytruncate
}
EOF
}

say() { echo "cctv install: $*"; }
fail() {
  echo "cctv install: $*" >&2
  exit 1
}

# True when the node binary $1 is version 20 or later.
node_recent() {
  major=$("$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 20 ] 2>/dev/null
}

# A string made safe inside JSON double quotes (the token and the host name: no control characters).
json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# The value of a string field that appears once in a compact JSON file (the master's answers).
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -n 1; }

# POST JSON to the master over TLS pinned to the CA; the answer in $4. A refusal stops the
# install with the master's own words. The body (it holds the token) goes on curl's standard
# input, never on its command line.
api() {
  code=$(printf '%s' "$3" | curl -sS --cacert "$ca_file" -X "$1" -H 'content-type: application/json' \
    --data-binary @- -o "$4" -w '%{http_code}' "$master$2") || fail "could not reach $master$2"
  case "$code" in
    2??) ;;
    *)
      message=$(json_field message "$4")
      fail "the master refused (${code} $(json_field code "$4")): ${message:-$(head -c 300 "$4")}. $left"
      ;;
  esac
}

main "$@"
