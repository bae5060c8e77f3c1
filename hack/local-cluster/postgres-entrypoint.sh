#!/bin/sh
# A small stand-in for the official postgres image's docker-entrypoint.sh:
# as root it prepares PGDATA and drops to the postgres user; when PGDATA is
# empty it runs initdb (superuser "postgres", password POSTGRES_PASSWORD,
# or trust when POSTGRES_HOST_AUTH_METHOD=trust) and listens on all addresses.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ]; then
	PGDATA=${PGDATA:-/var/lib/postgresql/data}
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA" /var/run/postgresql
		chown postgres:postgres "$PGDATA" /var/run/postgresql
		chmod 700 "$PGDATA"
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
	fi
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
		if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
			echo "docker-entrypoint.sh: set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
			exit 1
		fi
		pwfile=$(mktemp)
		printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" >"$pwfile"
		initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} >/dev/null
		rm -f "$pwfile"
		printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
		printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
	fi
fi
exec "$@"
