"""Backends for the build stages: weight-free ones (backdrop person detector), a TorchScript
aesthetic scorer from a local file, and MediaPipe pose (the `mediapipe` extra)."""
