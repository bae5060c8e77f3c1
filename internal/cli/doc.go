// Package cli runs a binary's cobra root command: it cancels the command's
// context on SIGTERM or SIGINT and turns the result into an exit code.
package cli
