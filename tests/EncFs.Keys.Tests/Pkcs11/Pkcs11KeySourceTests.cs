using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Crypto;
using EncFs.Keys.Pkcs11;

namespace EncFs.Keys.Tests.Pkcs11;

/// <summary>The PKCS#11 key source against a real SoftHSM2 token.</summary>
[Collection(SoftHsmCollection.Name)]
public sealed class Pkcs11KeySourceTests(SoftHsm hsm)
{
    private static readonly byte[] Pin = Encoding.ASCII.GetBytes(SoftHsm.Pin);

    [Fact]
    public void GeneratesANonExtractableKeyAndWrapsInsideTheToken()
    {
        var label = NewLabel();
        var (descriptor, kek) = Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri(label)), Pin, out var generated);
        using (kek)
        {
            Assert.True(generated);
            Assert.Equal($"{SoftHsm.TokenLabel}/{label}", kek.KeyId);
            Assert.Matches("^[0-9a-f]{16}$", kek.KeyVersion);
            Assert.Equal(kek.KeyVersion, descriptor["id"]!.GetValue<string>());

            var dek = RandomNumberGenerator.GetBytes(32);
            var aad = Encoding.ASCII.GetBytes("volume/scope/1");
            var wrapped = kek.Wrap(dek, aad);
            Assert.Equal(Pkcs11Kek.IvSize + 32 + Pkcs11Kek.TagSize, wrapped.Length);
            Assert.Equal(-1, wrapped.AsSpan().IndexOf(dek));
            using var unwrapped = kek.Unwrap(wrapped, aad);
            Assert.Equal(dek, unwrapped.Span.ToArray());

            // Two wraps of the same key differ (random IV).
            Assert.NotEqual(wrapped, kek.Wrap(dek, aad));
        }

        var listing = hsm.Run("pkcs11-tool", "--module", SoftHsm.Module, "--token-label", SoftHsm.TokenLabel, "--login", "--pin", SoftHsm.Pin, "--list-objects", "--type", "secrkey");
        var entry = listing[listing.IndexOf(label, StringComparison.Ordinal)..];
        Assert.Contains("never extractable", entry, StringComparison.Ordinal);
        Assert.Contains("sensitive", entry, StringComparison.Ordinal);
    }

    [Fact]
    public void AssociatedDataAndTamperingAreDetected()
    {
        using var kek = Create(NewLabel(), out _);
        var dek = RandomNumberGenerator.GetBytes(32);
        var wrapped = kek.Wrap(dek, "aad-1"u8);

        Assert.Throws<WrongKeyException>(() => kek.Unwrap(wrapped, "aad-2"u8));
        var flipped = (byte[])wrapped.Clone();
        flipped[20] ^= 1;
        Assert.Throws<WrongKeyException>(() => kek.Unwrap(flipped, "aad-1"u8));
        Assert.Throws<WrongKeyException>(() => kek.Unwrap(wrapped.AsSpan(0, 20), "aad-1"u8));

        using var other = Create(NewLabel(), out _);
        Assert.Throws<WrongKeyException>(() => other.Unwrap(wrapped, "aad-1"u8));
    }

    [Fact]
    public void AnExistingKeyIsUsedAndTheDescriptorHoldsNoPin()
    {
        var label = NewLabel();
        var pinFile = Path.Combine(hsm.Directory, label + ".pin");
        File.WriteAllText(pinFile, SoftHsm.Pin + "\n");
        var first = Pkcs11Uri.Parse(SoftHsm.Uri(label) + "&pin-source=file:" + pinFile);
        var pinFromUri = Pkcs11KeySource.ReadPinFromUri(first)!;
        Assert.Equal(Pin, pinFromUri);
        var (descriptor, kek) = Pkcs11KeySource.Create(first, pinFromUri, out var generated);
        byte[] wrapped;
        using (kek)
        {
            Assert.True(generated);
            wrapped = kek.Wrap(new byte[32], "x"u8);
        }

        var (again, reused) = Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri(label) + "&pin-value=" + SoftHsm.Pin), Pin, out var generatedAgain);
        using (reused)
        {
            Assert.False(generatedAgain);
            Assert.Equal(descriptor["id"]!.GetValue<string>(), again["id"]!.GetValue<string>());
            using var key = reused.Unwrap(wrapped, "x"u8);
        }

        foreach (var stored in new[] { descriptor, again })
        {
            var text = stored.ToJsonString();
            Assert.DoesNotContain("pin-", text, StringComparison.Ordinal);
            Assert.DoesNotContain(SoftHsm.Pin, text, StringComparison.Ordinal);
            Assert.Equal("pkcs11", stored["type"]!.GetValue<string>());
            Assert.Contains(";id=%", stored["uri"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        using var opened = Pkcs11KeySource.Open(descriptor, Pin);
        using var unwrapped = opened.Unwrap(wrapped, "x"u8);
        Assert.Equal(new byte[32], unwrapped.Span.ToArray());
    }

    [Fact]
    public void WrongPinIsAWrongKey()
    {
        var label = NewLabel();
        using (Create(label, out var descriptor))
        {
            var e = Assert.Throws<WrongKeyException>(() => Pkcs11KeySource.Open(descriptor, "0000"u8));
            Assert.Contains($"wrong PIN for PKCS#11 token '{SoftHsm.TokenLabel}'", e.Message, StringComparison.Ordinal);
            Assert.Throws<WrongKeyException>(() => Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri(NewLabel())), "9999"u8, out _));
        }
    }

    [Fact]
    public void MissingModulePathIsAClearError()
    {
        var e = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Create(Pkcs11Uri.Parse($"pkcs11:token={SoftHsm.TokenLabel};object=k"), Pin, out _));
        Assert.Contains("module-path", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnreachableModuleIsAClearError()
    {
        var missing = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri("k", module: "/nonexistent/libp11.so")), Pin, out _));
        Assert.Contains("'/nonexistent/libp11.so' does not exist", missing.Message, StringComparison.Ordinal);

        var notALibrary = Path.Combine(hsm.Directory, "not-a-module.so");
        File.WriteAllText(notALibrary, "this is no shared object");
        var broken = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri("k", module: notALibrary)), Pin, out _));
        Assert.Contains("cannot be loaded", broken.Message, StringComparison.Ordinal);

        // A library that is not a PKCS#11 module (no C_GetFunctionList).
        var libc = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri("k", module: FindLibz())), Pin, out _));
        Assert.Contains("cannot be loaded", libc.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownTokenIsAClearError()
    {
        var e = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri("k", token: "no-such-token")), Pin, out _));
        Assert.Contains("token 'no-such-token' not found", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{SoftHsm.TokenLabel}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeletingTheKeyRevokesTheScope()
    {
        var label = NewLabel();
        var kek = Create(label, out var descriptor);
        var wrapped = kek.Wrap(new byte[32], "aad"u8);

        hsm.DeleteKey(label);

        // A KEK already open stops working, and the source cannot open it any more.
        var live = Assert.Throws<KeyAccessException>(() => kek.Unwrap(wrapped, "aad"u8));
        Assert.IsNotType<WrongKeyException>(live);
        Assert.Contains("deleted or revoked", live.Message, StringComparison.Ordinal);
        kek.Dispose();
        var e = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Open(descriptor, Pin));
        Assert.Contains($"'{label}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("deleted or revoked", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyRecreatedUnderTheSameLabelDoesNotStandInForTheDeletedOne()
    {
        var label = NewLabel();
        using (Create(label, out var descriptor))
        {
            Pkcs11KeySource.Destroy(descriptor, Pin);
            using var impostor = Create(label, out _);
            var e = Assert.Throws<KeyAccessException>(() => Pkcs11KeySource.Open(descriptor, Pin));
            Assert.Contains("deleted or revoked", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CredentialKeySourceNamesTheScopeAndTriesAWrongPinOnce()
    {
        var label = NewLabel();
        JsonObject descriptor;
        using (Create(label, out descriptor))
        {
        }

        var scope = new ScopeRecord { Id = "00000000000000000000000000000001", Name = "hsm-scope", KeySource = descriptor };
        int asked = 0;
        using (var right = new CredentialKeySource(passphrase: null) { Pkcs11Pin = () => { asked++; return SecretKey.Copy(Pin); } })
        {
            using var a = right.GetKek(scope);
            using var b = right.GetKek(scope);
            Assert.Equal($"{SoftHsm.TokenLabel}/{label}", a.KeyId);
            Assert.Equal(1, asked);
        }

        using (var none = new CredentialKeySource(passphrase: null))
        {
            var e = Assert.Throws<KeyAccessException>(() => none.GetKek(scope));
            Assert.Contains("scope 'hsm-scope'", e.Message, StringComparison.Ordinal);
            Assert.Contains("--pin-file", e.Message, StringComparison.Ordinal);
        }

        using var wrong = new CredentialKeySource(passphrase: null) { Pkcs11Pin = () => SecretKey.Copy("4321"u8) };
        var first = Assert.Throws<WrongKeyException>(() => wrong.GetKek(scope));
        Assert.Contains("scope 'hsm-scope'", first.Message, StringComparison.Ordinal);
        Assert.Contains("wrong PIN", first.Message, StringComparison.Ordinal);
        Assert.Same(first, Assert.Throws<WrongKeyException>(() => wrong.GetKek(scope)));
    }

    [Fact]
    public void KeksShareTheModuleSafely()
    {
        var one = Create(NewLabel(), out _);
        using var two = Create(NewLabel(), out _);
        var wrapped = two.Wrap(new byte[32], "a"u8);
        one.Dispose();
        one.Dispose();
        using var key = two.Unwrap(wrapped, "a"u8);
        Assert.Throws<ObjectDisposedException>(() => one.Wrap(new byte[32], "a"u8));
    }

    private static Pkcs11Kek Create(string label, out JsonObject descriptor)
    {
        var (created, kek) = Pkcs11KeySource.Create(Pkcs11Uri.Parse(SoftHsm.Uri(label)), Pin, out _);
        descriptor = created;
        return kek;
    }

    private static string NewLabel() => "kek-" + Guid.NewGuid().ToString("N")[..10];

    private static string FindLibz()
    {
        foreach (var candidate in new[] { "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1", "/lib/aarch64-linux-gnu/libz.so.1" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("no libz.so.1 found to stand in for a non-PKCS#11 library");
    }
}
