// Package merge is gomerge's engine: it checks that a set of checkpoints can
// be merged, plans one Task per output tensor with its resolved parameters,
// and streams every tensor chunk by chunk through a Method into a
// formats.Writer, in parallel and with byte-identical results for any thread
// count.
//
// The engine knows no merge algorithm. A method is a MethodSpec (name,
// parameters with defaults, how many models and whether it needs a base)
// whose New function validates the global parameters before any I/O and
// returns a Method. A Method computes one Task; a method that needs
// statistics over the whole model also implements Preparer.
package merge
