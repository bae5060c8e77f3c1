// Package imagerewrite maps image references to a private registry, so that
// plugins keep naming official images (docker.io/library/redis:7.2) while an
// air-gapped cluster pulls from its mirror.
//
// A rule is "PREFIX=MIRROR": an image starting with PREFIX has that prefix
// replaced by MIRROR. The longest matching prefix wins. Short names are
// normalised first the way container runtimes do ("redis:7.2" is
// "docker.io/library/redis:7.2").
package imagerewrite
