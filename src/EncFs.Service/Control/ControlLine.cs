using System.Net.Sockets;
using System.Text;

namespace EncFs.Service.Control;

/// <summary>Reads one newline-terminated line from a socket, refusing lines longer than a limit.</summary>
internal static class ControlLine
{
    public static string Read(Socket socket, int maxBytes)
    {
        var buffer = new byte[maxBytes];
        int length = 0;
        while (true)
        {
            int n = socket.Receive(buffer.AsSpan(length));
            if (n == 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, length);
            }

            int newline = buffer.AsSpan(length, n).IndexOf((byte)'\n');
            length += n;
            if (newline >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, length - n + newline);
            }

            if (length == maxBytes)
            {
                throw new ControlSocketException($"line longer than {maxBytes} bytes");
            }
        }
    }
}
