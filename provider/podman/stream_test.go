package podman

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func frame(stream byte, payload string) []byte {
	hdr := make([]byte, 8)
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	return append(hdr, payload...)
}

func TestDemux(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(1, "out-1 "))
	in.Write(frame(2, "err-1"))
	in.Write(frame(1, "out-2"))
	in.Write(frame(0, "echoed stdin"))
	in.Write(frame(1, ""))
	var out, errw bytes.Buffer
	if err := demux(&in, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out-1 out-2" || errw.String() != "err-1" {
		t.Errorf("stdout %q stderr %q", out.String(), errw.String())
	}

	// A stream that was not asked for is dropped; a frame cut short passes on what arrived, then ends the copy.
	var only bytes.Buffer
	cut := append(frame(2, "dropped"), frame(1, "complete")...)
	cut = append(cut, frame(1, "truncated")[:10]...)
	if err := demux(bytes.NewReader(cut), &only, nil); err != nil {
		t.Fatal(err)
	}
	if only.String() != "completetr" {
		t.Errorf("stdout %q", only.String())
	}
}
