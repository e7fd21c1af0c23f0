using System.Buffers.Binary;
using System.Net.Sockets;

namespace EncFs.Service.Control;

/// <summary>Who is at the other end of a Unix-domain socket, as the kernel vouches (SO_PEERCRED).</summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1, SoPeerCred = 17;

    public static uint OwnUid => Core.Backing.BackingFs.EffectiveUid;

    public static PeerCredentials Of(Socket socket)
    {
        Span<byte> credentials = stackalloc byte[12];
        socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(credentials),
            BinaryPrimitives.ReadUInt32LittleEndian(credentials[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(credentials[8..]));
    }
}
