package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxMessage bounds a condition message (the API allows 32768 bytes; status
// should stay small).
const maxMessage = 1024

// Set sets the condition typ on conds, stamped with generation. The transition
// time changes only when the status does. It reports whether anything changed.
func Set(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string) bool {
	if len(message) > maxMessage {
		message = message[:maxMessage-3] + "..."
	}
	return meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             reason,
		Message:            message,
	})
}

// MarkTrue sets typ to True.
func MarkTrue(conds *[]metav1.Condition, generation int64, typ, reason, message string) bool {
	return Set(conds, generation, typ, metav1.ConditionTrue, reason, message)
}

// MarkFalse sets typ to False.
func MarkFalse(conds *[]metav1.Condition, generation int64, typ, reason, message string) bool {
	return Set(conds, generation, typ, metav1.ConditionFalse, reason, message)
}

// MarkUnknown sets typ to Unknown.
func MarkUnknown(conds *[]metav1.Condition, generation int64, typ, reason, message string) bool {
	return Set(conds, generation, typ, metav1.ConditionUnknown, reason, message)
}

// Get returns the condition typ, or nil.
func Get(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// IsTrue reports whether typ is True.
func IsTrue(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionTrue(conds, typ)
}

// IsFalse reports whether typ is False.
func IsFalse(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionFalse(conds, typ)
}
