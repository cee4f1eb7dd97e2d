"""HuMoVe: the paired video/motion/caption dataset of EchoMotion."""
