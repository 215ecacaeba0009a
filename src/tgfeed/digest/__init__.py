"""The weekly digest: selection, rendering and the message (all pure)."""
