namespace EncFs.Core.Backing;

/// <summary>POSIX error numbers (Linux values), the error vocabulary of the volume API.</summary>
/// <remarks>Frontends translate them: FUSE passes them through, a Windows host maps them to NTSTATUS.</remarks>
public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EIO = 5,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    EFBIG = 27,
    ENOSPC = 28,
    EROFS = 30,
    EMLINK = 31,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ENODATA = 61,
    EPROTO = 71,
    ENXIO = 6,
    ENODEV = 19,
    EOVERFLOW = 75,
    ENOTSUP = 95,
    EDQUOT = 122,
}
