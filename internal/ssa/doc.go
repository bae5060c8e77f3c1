// Package ssa applies desired objects with server-side apply under one field
// manager per controller, and patches status the same way. Objects carry their
// TypeMeta (desired<Kind> functions set it) so that nothing depends on a
// scheme lookup. ApplyIfChanged skips an apply the informer cache shows would
// change nothing.
package ssa
