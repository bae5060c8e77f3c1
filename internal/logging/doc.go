// Package logging builds the structured (zap, JSON) logger every Plinth binary
// uses, and its command-line flags.
package logging
