// The tests read xattrs with libc and mount through FUSE: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
