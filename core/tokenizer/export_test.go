package tokenizer

import "testing"

func TestWriteFilesRoundTrip(t *testing.T) {
	for _, name := range BuiltinNames {
		dir := t.TempDir()
		if err := WriteFiles(name, dir); err != nil {
			t.Fatal(err)
		}
		loaded, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := Builtin(name)
		s := "Hello world, <mask> it's 2026!"
		a, b := loaded.Encode(s), ref.Encode(s)
		if len(a) != len(b) {
			t.Fatalf("%s: %v vs %v", name, a, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s: %v vs %v", name, a, b)
			}
		}
	}
	if err := WriteFiles("bert", t.TempDir()); err == nil {
		t.Fatal("unknown name accepted")
	}
}
