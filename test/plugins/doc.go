// Package plugins tests the scripts of the shipped plugins against real
// middleware processes on loopback (internal/middlewaretest): the same argv
// the ops agent would run, rendered from the plugin folder.
package plugins
