package main

// embeddedModel would extract a model carried inside the binary; models are
// read from ./models until the tiny pretrained checkpoints ship.
func embeddedModel(name string) (string, bool, error) { return "", false, nil }
