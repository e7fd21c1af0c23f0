using EncFs.Crypto;

namespace EncFs.Benchmarks;

internal static class XtsBench
{
    public const string OpenSsl = "OpenSSL";
    public const string Ecb = "ECB";

    public static XtsSectorCipher Create(string engine)
    {
        byte[] key = Data(XtsSectorCipher.KeySize);
        return engine == OpenSsl ? XtsSectorCipher.CreateOpenSsl(key) : XtsSectorCipher.CreateEcb(key);
    }

    public static byte[] Data(int length)
    {
        byte[] data = new byte[length];
        new Random(length).NextBytes(data);
        return data;
    }
}
