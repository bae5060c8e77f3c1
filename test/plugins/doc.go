// Package plugins tests the scripts of the shipped plugins against real
// middleware processes on loopback (internal/middlewaretest): the same argv
// the ops agent would run, rendered from the plugin folder. The PostgreSQL
// plugin's start.sh is run as procmgr runs it: initialising a primary,
// cloning standbys through replication slots, rejoining a former primary
// with pg_rewind, and refusing to bring back an initialized primary with an
// empty data directory.
package plugins
