package app

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
)

// quietRecorder drops virtual-kubelet's own bookkeeping events (ProviderCreateSuccess, ...), which a kubelet
// never emits, and passes everything else on. Failures stay visible.
type quietRecorder struct{ record.EventRecorder }

var vkChatter = map[string]bool{
	"ProviderCreateSuccess": true,
	"ProviderUpdateSuccess": true,
	"ProviderDeleteSuccess": true,
}

func (q quietRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	if !vkChatter[reason] {
		q.EventRecorder.Event(obj, eventtype, reason, message)
	}
}

func (q quietRecorder) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	if !vkChatter[reason] {
		q.EventRecorder.Eventf(obj, eventtype, reason, messageFmt, args...)
	}
}

func (q quietRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	if !vkChatter[reason] {
		q.EventRecorder.AnnotatedEventf(obj, annotations, eventtype, reason, messageFmt, args...)
	}
}
