// Command libevh_example_go is the Go twin of the C and Rust example plugins: one
// c-shared library, libevh_example_go.so, carrying the plugins sequence (producer),
// digest, count and print (consumers). Build it with
//
//	go build -buildmode=c-shared -o libevh_example_go.so .
//
// Each plugin registers itself in its file's init function; the SDK exports
// evh_library_init. The outputs match the C and Rust twins byte for byte.
package main

// main is never called: a c-shared library needs a main package, nothing more.
func main() {}
