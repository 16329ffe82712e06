// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// The RFC 9106 §5.3 Argon2id test vector: it uses a secret and associated
// data, which only deriveKey takes.
func TestRFC9106Vector(t *testing.T) {
	password := bytes.Repeat([]byte{0x01}, 32)
	salt := bytes.Repeat([]byte{0x02}, 16)
	secret := bytes.Repeat([]byte{0x03}, 8)
	ad := bytes.Repeat([]byte{0x04}, 12)
	want, _ := hex.DecodeString("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
	defer func(sse4, lsx bool) { useSSE4, useLSX = sse4, lsx }(useSSE4, useLSX)
	for _, impl := range []string{"native", "generic"} {
		if impl == "generic" {
			useSSE4, useLSX = false, false
		}
		// Twice in one buffer: the second run starts from the first's
		// blocks, not from zeroed memory.
		B := make([]block, blockCount(32, 4))
		for run := range 2 {
			got := deriveKey(argon2id, B, password, salt, secret, ad, 3, 32, 4, 32)
			if !bytes.Equal(got, want) {
				t.Errorf("%s, run %d: RFC 9106 argon2id = %x, want %x", impl, run, got, want)
			}
		}
		if got := deriveKey(argon2id, nil, password, salt, secret, ad, 3, 32, 4, 32); !bytes.Equal(got, want) {
			t.Errorf("%s, fresh memory: RFC 9106 argon2id = %x, want %x", impl, got, want)
		}
	}
}

// TestVectors runs upstream's vectors (from the reference CLI), every mode.
func TestVectors(t *testing.T) {
	password, salt := []byte("password"), []byte("somesalt")
	for i, v := range testVectors {
		want, err := hex.DecodeString(v.hash)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		B := make([]block, blockCount(v.memory, uint32(v.threads)))
		for j := range B { // garbage: reuse must not depend on zeroed memory
			for k := range B[j] {
				B[j][k] = ^uint64(k)
			}
		}
		if got := deriveKey(v.mode, B, password, salt, nil, nil, v.time, v.memory, v.threads, uint32(len(want))); !bytes.Equal(got, want) {
			t.Errorf("vector %d = %x, want %x", i, got, want)
		}
	}
}

// TestMatchesUpstream compares IDKey and Buffer.IDKey with
// golang.org/x/crypto/argon2.IDKey on random inputs, one Buffer reused
// across them.
func TestMatchesUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	bufs := map[[2]uint32]*Buffer{}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for i := range 60 {
		password, salt := random(r.IntN(80)), random(8+r.IntN(57))
		time := 1 + r.Uint32N(3)
		threads := uint8(1 + r.IntN(4))
		memory := 8*uint32(threads) + r.Uint32N(300)
		keyLen := 16 + r.Uint32N(113)
		want := upstream.IDKey(password, salt, time, memory, threads, keyLen)
		if got := IDKey(password, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
			t.Fatalf("case %d: IDKey(m=%d,t=%d,p=%d) = %x, want %x", i, memory, time, threads, got, want)
		}
		k := [2]uint32{memory % 64, uint32(threads)} // a few sizes, so buffers get reused and misfit
		b := bufs[k]
		if b == nil {
			b = NewBuffer(memory, threads)
			bufs[k] = b
		}
		if got := b.IDKey(password, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
			t.Fatalf("case %d: Buffer.IDKey(m=%d,t=%d,p=%d) = %x, want %x", i, memory, time, threads, got, want)
		}
	}
}

// TestMatchesUpstreamDefault checks tgauth's own parameters (19 MiB, t=2,
// p=1) over several passwords in one Buffer.
func TestMatchesUpstreamDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("19 MiB hashes")
	}
	b := NewBuffer(19456, 1)
	if !b.Fits(19456, 1) || b.Fits(19452, 1) || b.Fits(65536, 1) {
		t.Fatal("Fits is wrong")
	}
	for _, pw := range []string{"", "Lt9!correct-horse", "пароль密码🔑"} {
		salt := []byte("0123456789abcdef")
		want := upstream.IDKey([]byte(pw), salt, 2, 19456, 1, 32)
		if got := b.IDKey([]byte(pw), salt, 2, 19456, 1, 32); !bytes.Equal(got, want) {
			t.Errorf("Buffer.IDKey(%q) = %x, want %x", pw, got, want)
		}
	}
}

// TestProcessBlockGeneric checks the portable block function against the
// one this platform uses, in both modes.
func TestProcessBlockGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var in1, in2, out0 block
	for i := range in1 {
		in1[i], in2[i], out0[i] = r.Uint64(), r.Uint64(), r.Uint64()
	}
	for _, xor := range []bool{false, true} {
		got, want := out0, out0
		processBlockGeneric(&got, &in1, &in2, xor)
		if xor {
			processBlockXOR(&want, &in1, &in2)
		} else {
			processBlock(&want, &in1, &in2)
		}
		if got != want {
			t.Errorf("processBlockGeneric(xor=%v) differs from processBlock", xor)
		}
	}
}

// TestBufferFree: a freed Buffer gives up its memory and still computes.
func TestBufferFree(t *testing.T) {
	password, salt := []byte("password"), []byte("somesalt")
	want := upstream.IDKey(password, salt, 1, 64, 1, 32)
	b := NewBuffer(64, 1)
	if got := b.IDKey(password, salt, 1, 64, 1, 32); !bytes.Equal(got, want) {
		t.Fatalf("IDKey = %x, want %x", got, want)
	}
	b.Free()
	if b.Fits(64, 1) {
		t.Error("a freed Buffer still fits")
	}
	if got := b.IDKey(password, salt, 1, 64, 1, 32); !bytes.Equal(got, want) {
		t.Errorf("IDKey after Free = %x, want %x", got, want)
	}
	b.Free() // twice is fine
}

func BenchmarkIDKey(b *testing.B) {
	password, salt := []byte("password"), []byte("choosing random salts is hard")
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			IDKey(password, salt, 2, 19456, 1, 32)
		}
	})
	b.Run("buffer", func(b *testing.B) {
		buf := NewBuffer(19456, 1)
		b.ReportAllocs()
		for b.Loop() {
			buf.IDKey(password, salt, 2, 19456, 1, 32)
		}
	})
}

// Generated with the CLI of https://github.com/P-H-C/phc-winner-argon2/blob/master/argon2-specs.pdf
var testVectors = []struct {
	mode         int
	time, memory uint32
	threads      uint8
	hash         string
}{
	{
		mode: argon2i, time: 1, memory: 64, threads: 1,
		hash: "b9c401d1844a67d50eae3967dc28870b22e508092e861a37",
	},
	{
		mode: argon2d, time: 1, memory: 64, threads: 1,
		hash: "8727405fd07c32c78d64f547f24150d3f2e703a89f981a19",
	},
	{
		mode: argon2id, time: 1, memory: 64, threads: 1,
		hash: "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb",
	},
	{
		mode: argon2i, time: 2, memory: 64, threads: 1,
		hash: "8cf3d8f76a6617afe35fac48eb0b7433a9a670ca4a07ed64",
	},
	{
		mode: argon2d, time: 2, memory: 64, threads: 1,
		hash: "3be9ec79a69b75d3752acb59a1fbb8b295a46529c48fbb75",
	},
	{
		mode: argon2id, time: 2, memory: 64, threads: 1,
		hash: "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7",
	},
	{
		mode: argon2i, time: 2, memory: 64, threads: 2,
		hash: "2089f3e78a799720f80af806553128f29b132cafe40d059f",
	},
	{
		mode: argon2d, time: 2, memory: 64, threads: 2,
		hash: "68e2462c98b8bc6bb60ec68db418ae2c9ed24fc6748a40e9",
	},
	{
		mode: argon2id, time: 2, memory: 64, threads: 2,
		hash: "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362",
	},
	{
		mode: argon2i, time: 3, memory: 256, threads: 2,
		hash: "f5bbf5d4c3836af13193053155b73ec7476a6a2eb93fd5e6",
	},
	{
		mode: argon2d, time: 3, memory: 256, threads: 2,
		hash: "f4f0669218eaf3641f39cc97efb915721102f4b128211ef2",
	},
	{
		mode: argon2id, time: 3, memory: 256, threads: 2,
		hash: "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b",
	},
	{
		mode: argon2i, time: 4, memory: 4096, threads: 4,
		hash: "a11f7b7f3f93f02ad4bddb59ab62d121e278369288a0d0e7",
	},
	{
		mode: argon2d, time: 4, memory: 4096, threads: 4,
		hash: "935598181aa8dc2b720914aa6435ac8d3e3a4210c5b0fb2d",
	},
	{
		mode: argon2id, time: 4, memory: 4096, threads: 4,
		hash: "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a",
	},
	{
		mode: argon2i, time: 4, memory: 1024, threads: 8,
		hash: "0cdd3956aa35e6b475a7b0c63488822f774f15b43f6e6e17",
	},
	{
		mode: argon2d, time: 4, memory: 1024, threads: 8,
		hash: "83604fc2ad0589b9d055578f4d3cc55bc616df3578a896e9",
	},
	{
		mode: argon2id, time: 4, memory: 1024, threads: 8,
		hash: "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f",
	},
	{
		mode: argon2i, time: 2, memory: 64, threads: 3,
		hash: "5cab452fe6b8479c8661def8cd703b611a3905a6d5477fe6",
	},
	{
		mode: argon2d, time: 2, memory: 64, threads: 3,
		hash: "22474a423bda2ccd36ec9afd5119e5c8949798cadf659f51",
	},
	{
		mode: argon2id, time: 2, memory: 64, threads: 3,
		hash: "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079",
	},
	{
		mode: argon2i, time: 3, memory: 1024, threads: 6,
		hash: "d236b29c2b2a09babee842b0dec6aa1e83ccbdea8023dced",
	},
	{
		mode: argon2d, time: 3, memory: 1024, threads: 6,
		hash: "a3351b0319a53229152023d9206902f4ef59661cdca89481",
	},
	{
		mode: argon2id, time: 3, memory: 1024, threads: 6,
		hash: "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016",
	},
}
