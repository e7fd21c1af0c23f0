// The tests mount through the Linux kernel's FUSE: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
