// Package plugins tests the scripts the shipped plugins run inside their
// pods, against real middleware processes on loopback addresses: the
// PostgreSQL plugin's start.sh initialising a primary, cloning standbys with
// replication slots, rejoining a former primary with pg_rewind, and refusing
// to bring back an initialized primary with an empty data directory.
package plugins
