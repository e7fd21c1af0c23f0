namespace EncFs.Crypto.Tests.Xts;

/// <summary>
/// IEEE 1619-2007 Annex B, the XTS-AES-256 vectors (10 to 14): one key, a 512-byte data unit
/// of the bytes 00..ff twice, and data unit numbers ff to ffffffffff. The standard has no
/// 256-bit ciphertext-stealing vector; odd lengths are covered by the python oracle tests.
/// </summary>
public class IeeeVectorTests
{
    private const string Key =
        "2718281828459045235360287471352662497757247093699959574966967627" +
        "3141592653589793238462643383279502884197169399375105820974944592";

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string engine in XtsTestSupport.Engines)
        {
            for (int vector = 10; vector <= 14; vector++)
            {
                data.Add(engine, vector);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncryptsToTheStandardCiphertext(string engine, int vector)
    {
        (ulong unit, byte[] expected) = IeeeVectors.Get(vector);
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, Convert.FromHexString(Key));

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(XtsTestSupport.Encrypt(cipher, unit, Plaintext())));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecryptsTheStandardCiphertext(string engine, int vector)
    {
        (ulong unit, byte[] ciphertext) = IeeeVectors.Get(vector);
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, Convert.FromHexString(Key));

        Assert.Equal(Plaintext(), XtsTestSupport.Decrypt(cipher, unit, ciphertext));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WorksInPlace(string engine, int vector)
    {
        (ulong unit, byte[] expected) = IeeeVectors.Get(vector);
        using XtsSectorCipher cipher = XtsTestSupport.Create(engine, Convert.FromHexString(Key));
        byte[] buffer = Plaintext();

        cipher.Encrypt(unit, buffer, buffer);
        Assert.Equal(expected, buffer);
        cipher.Decrypt(unit, buffer, buffer);
        Assert.Equal(Plaintext(), buffer);
    }

    [Fact]
    public void DefaultImplementationMatchesVector10()
    {
        (ulong unit, byte[] expected) = IeeeVectors.Get(10);
        using var cipher = new XtsSectorCipher(Convert.FromHexString(Key));

        Assert.Equal(expected, XtsTestSupport.Encrypt(cipher, unit, Plaintext()));
    }

    internal static byte[] KeyBytes() => Convert.FromHexString(Key);

    internal static byte[] Plaintext() => [.. Enumerable.Range(0, 512).Select(i => (byte)i)];
}
