using System.Text;
using EncFs.Core.Backing;
using EncFs.Core.Volume;
using EncFs.Fuse.Protocol;

namespace EncFs.Fuse.Session;

internal sealed partial class FuseOperations
{
    /// <summary>Setting these chooses the scope of an empty file or directory (see docs/KEYS.md).</summary>
    public const string ScopeAttribute = "user.efs.scope", DenyOverrideAttribute = "user.efs.deny-override";

    private int SetXattr(in InHeader header, ref RequestReader request)
    {
        var input = request.Read<SetXattrIn>();
        var name = request.ReadName();
        if (name is ScopeAttribute or DenyOverrideAttribute)
        {
            return SetScopeAttribute(header, name, System.Text.Encoding.UTF8.GetString(request.ReadBytes((int)input.Size)).Trim());
        }

        RequireStorableNamespace(name, writing: true);
        _volume.SetXattr(PathOf(header), name, request.ReadBytes((int)input.Size), (XattrMode)(input.Flags & 3));
        return 0;
    }

    private int GetXattr(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<GetXattrIn>();
        var name = request.ReadName();
        RequireStorableNamespace(name);
        var value = name switch
        {
            MountedStatus.AttributeName => System.Text.Encoding.UTF8.GetBytes(MountedStatus.ToJson(_volume.GetEncryptionStatus(PathOf(header))).ToJsonString()),
            ScopeAttribute => System.Text.Encoding.UTF8.GetBytes(_volume.GetEncryptionStatus(PathOf(header)).ScopeName),
            _ => _volume.GetXattr(PathOf(header), name) ?? throw new FsException(Errno.ENODATA, name),
        };
        return ReplySized(value, input.Size, ref reply);
    }

    private int ListXattr(in InHeader header, ref RequestReader request, ref ReplyWriter reply)
    {
        var input = request.Read<GetXattrIn>();
        var list = new StringBuilder();
        foreach (var name in _volume.ListXattrs(PathOf(header)))
        {
            list.Append(name).Append('\0');
        }

        return ReplySized(Encoding.UTF8.GetBytes(list.ToString()), input.Size, ref reply);
    }

    private int RemoveXattr(in InHeader header, ref RequestReader request)
    {
        var name = request.ReadName();
        RequireStorableNamespace(name, writing: true);
        _volume.RemoveXattr(PathOf(header), name);
        return 0;
    }

    /// <summary>Only the entry's owner (or root) chooses its scope; the volume checks the rest.</summary>
    private int SetScopeAttribute(in InHeader header, string name, string value)
    {
        var path = PathOf(header);
        var status = _volume.GetStatus(path);
        if (header.Uid != 0 && header.Uid != status.Uid)
        {
            return (int)Errno.EPERM;
        }

        if (name == ScopeAttribute)
        {
            _volume.SetEntryScope(path, value);
        }
        else
        {
            bool deny = value switch
            {
                "1" or "true" or "yes" => true,
                "0" or "false" or "no" => false,
                _ => throw new FsException(Errno.EINVAL, $"{DenyOverrideAttribute} takes 1 or 0, not '{value}'"),
            };
            _volume.SetEntryScope(path, _volume.GetEncryptionStatus(path).ScopeId, deny);
        }

        return 0;
    }

    /// <summary>Size 0 asks for the length only; a buffer too small is ERANGE.</summary>
    private static int ReplySized(byte[] value, uint size, ref ReplyWriter reply)
    {
        if (size == 0)
        {
            reply.Write(new GetXattrOut { Size = (uint)value.Length });
            return 0;
        }

        if (value.Length > size)
        {
            return (int)Errno.ERANGE;
        }

        reply.WriteBytes(value);
        return 0;
    }

    /// <summary>POSIX ACLs (system.*) would be enforced by nobody: refuse them rather than store them.</summary>
    private static void RequireStorableNamespace(string name, bool writing = false)
    {
        if (writing && name == MountedStatus.AttributeName)
        {
            throw new FsException(Errno.EPERM, $"'{name}' is reserved: it reports the encryption status");
        }

        if (name.StartsWith("system.", StringComparison.Ordinal))
        {
            throw new FsException(Errno.ENOTSUP, $"extended attribute namespace of '{name}' is not supported");
        }
    }
}
