using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EncFs.Core.Format;
using EncFs.Core.Keys;
using EncFs.Crypto;

namespace EncFs.Core.Tests.Support;

/// <summary>
/// Test-only key source: the KEK of every scope is a raw 32-byte key held in memory, wrapping
/// with AES-256-GCM (EncFs.Crypto's KeyWrap) over the associated data the volume gives.
/// Descriptor: <c>{"type":"test-raw"}</c>.
/// </summary>
public sealed class RawKeySource : IKeySource
{
    public const string Type = "test-raw";
    public const string KeyId = "test-raw";
    public const string KeyVersion = "1";
    private readonly byte[] _key;
    private readonly Dictionary<string, byte[]> _scopeKeys = new(StringComparer.Ordinal);
    private int _calls;

    public RawKeySource(byte[] key)
    {
        if (key.Length != KeyWrap.KekSize)
        {
            throw new ArgumentException("a raw KEK is 32 bytes", nameof(key));
        }

        _key = (byte[])key.Clone();
    }

    /// <summary>The raw KEK of the default scope (and of every scope without its own).</summary>
    public byte[] DefaultKey => (byte[])_key.Clone();

    /// <summary>How many times the volume asked for a KEK.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public static RawKeySource NewRandom() => new(RandomNumberGenerator.GetBytes(KeyWrap.KekSize));

    public static JsonObject Descriptor() => new() { ["type"] = Type };

    /// <summary>A source with the same keys but one byte of the default KEK changed.</summary>
    public RawKeySource WithWrongKey()
    {
        var key = (byte[])_key.Clone();
        key[0] ^= 0x01;
        var other = new RawKeySource(key);
        foreach (var (name, scopeKey) in _scopeKeys)
        {
            other._scopeKeys[name] = scopeKey;
        }

        return other;
    }

    /// <summary>A copy of this source in which the scope named <paramref name="scopeName"/> has the KEK <paramref name="key"/>.</summary>
    public RawKeySource CopyWithScopeKey(string scopeName, byte[] key)
    {
        var other = new RawKeySource(_key);
        foreach (var (name, scopeKey) in _scopeKeys)
        {
            other._scopeKeys[name] = scopeKey;
        }

        return other.WithScopeKey(scopeName, key);
    }

    /// <summary>Gives the scope named <paramref name="scopeName"/> its own KEK.</summary>
    public RawKeySource WithScopeKey(string scopeName, byte[] key)
    {
        _scopeKeys[scopeName] = (byte[])key.Clone();
        return this;
    }

    /// <summary>The KEK used for a scope (for creating volumes and scopes).</summary>
    public IKeyEncryptionKey CreateKek(string? scopeName = null) =>
        new RawKek(scopeName is not null && _scopeKeys.TryGetValue(scopeName, out var key) ? key : _key);

    public IKeyEncryptionKey GetKek(ScopeRecord scope)
    {
        Interlocked.Increment(ref _calls);
        if (scope.KeySourceType != Type)
        {
            throw new KeyAccessException($"scope '{scope.Name}' uses key source '{scope.KeySourceType}', not '{Type}'");
        }

        return CreateKek(scope.Name);
    }

    private sealed class RawKek : IKeyEncryptionKey
    {
        private readonly byte[] _kek;

        public RawKek(byte[] kek) => _kek = (byte[])kek.Clone();

        public string KeyId => RawKeySource.KeyId;

        public string KeyVersion => RawKeySource.KeyVersion;

        public byte[] Wrap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> associatedData) =>
            KeyWrap.Wrap(_kek, key, associatedData);

        public SecretKey Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> associatedData)
        {
            try
            {
                return KeyWrap.Unwrap(_kek, wrapped, associatedData);
            }
            catch (KeyUnwrapException e)
            {
                throw new WrongKeyException("wrong test key", e);
            }
        }

        public void Dispose() => CryptographicOperations.ZeroMemory(_kek);
    }
}
