package lab

// FailAt returns spec set up so that Up fails after the named build step
// ("namespaces", "sysctls", "links", "nodes", "responder").
func FailAt(spec Spec, step string) Spec {
	spec.failAt = step
	return spec
}
