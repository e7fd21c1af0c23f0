namespace EncFs.Attack;

/// <summary>How bad a finding is, from "what the attacker learns by design" to "the data is out".</summary>
public enum Severity
{
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// <summary>One thing the attacker holding the medium learns: what, how bad, where, and the proof.</summary>
public sealed record Finding(string Kind, Severity Severity, string Path, string Evidence)
{
    /// <summary>Whether this finding is a leak of plaintext, names or keys (exit status 3).</summary>
    public bool IsLeak => FindingKinds.IsLeak(Kind);
}

/// <summary>The kinds of finding.</summary>
public static class FindingKinds
{
    public const string PlaintextLeak = "plaintext-leak";
    public const string NameLeak = "name-leak";
    public const string KeyMaterial = "key-material";
    public const string LowEntropy = "randomness";
    public const string Holes = "holes";
    public const string Structure = "structure";
    public const string Header = "volume-header";
    public const string Unreadable = "unreadable";
    public const string SnapshotAdded = "snapshot-added";
    public const string SnapshotRemoved = "snapshot-removed";
    public const string SnapshotChanged = "snapshot-changed";
    public const string SnapshotMetadata = "snapshot-metadata";

    public static bool IsLeak(string kind) => kind is PlaintextLeak or NameLeak or KeyMaterial;
}

/// <summary>The input cannot be analysed (not a volume, unreadable, malformed key file): exit status 2.</summary>
public sealed class AttackInputException : Exception
{
    public AttackInputException()
    {
    }

    public AttackInputException(string message)
        : base(message)
    {
    }

    public AttackInputException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
