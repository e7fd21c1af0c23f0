using EncFs.Core.Import;
using EncFs.Core.Tests.Support;
using EncFs.Core.Volume;

namespace EncFs.Core.Tests.Import;

/// <summary>
/// The in-place importer's decisions at the exact instants a real process cannot be stopped at
/// reliably: a write while the file is being copied or right after, someone else's file already
/// in the volume, a journal line torn by a crash.
/// </summary>
public sealed class InPlaceImporterTests
{
    [Theory]
    [InlineData("chunk")]
    [InlineData("copied")]
    public void AFileWrittenWhileItIsImportedStaysAsPlaintext(string step)
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        var file = Path.Combine(source, "busy.txt");
        File.WriteAllText(file, "before");
        bool written = false;
        var importer = new InPlaceImporter(test.Volume)
        {
            Checkpoint = reached =>
            {
                if (reached == step && !written)
                {
                    written = true;
                    File.AppendAllText(file, " and after");
                }
            },
        };

        var result = importer.Run(source, "/", null, CancellationToken.None);

        Assert.True(written);
        Assert.False(result.Complete);
        var left = Assert.Single(result.LeftBehind);
        Assert.Equal("/busy.txt", left.Path);
        Assert.StartsWith("changed during the import", left.Reason, StringComparison.Ordinal);
        Assert.Equal("before and after", File.ReadAllText(file));
        Assert.True(File.Exists(Path.Combine(source, ImportJournal.FileName)));

        var rerun = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

        Assert.True(rerun.Complete);
        Assert.Equal("before and after"u8.ToArray(), test.ReadFile("/busy.txt"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(source));
    }

    [Fact]
    public void ShredOverwritesOnlyFilesWithNoOtherName()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        var alone = Path.Combine(source, "alone.bin");
        var shared = Path.Combine(source, "shared.bin");
        var content = new byte[(1 << 20) + 17];
        new Random(3).NextBytes(content);
        File.WriteAllBytes(alone, content);
        File.WriteAllBytes(shared, content);
        var outsideName = test.Temp.Combine("outside-name");
        Assert.Equal(0, Link(shared, outsideName));
        var seenAtShred = new List<byte[]>();
        var importer = new InPlaceImporter(test.Volume, shred: true)
        {
            Checkpoint = reached =>
            {
                if (reached == "shredded")
                {
                    seenAtShred.Add(File.ReadAllBytes(alone));
                }
            },
        };

        var result = importer.Run(source, "/", null, CancellationToken.None);

        Assert.True(result.Complete);
        Assert.Equal(1, result.Shredded);
        var overwritten = Assert.Single(seenAtShred);
        Assert.Equal(content.Length, overwritten.Length);
        Assert.True(overwritten.All(b => b == 0), "the plaintext was not overwritten with zeros");
        Assert.Equal(content, File.ReadAllBytes(outsideName));
        Assert.Equal(["/shared.bin"], result.LinkedOutside);
        Assert.Equal(content, test.ReadFile("/alone.bin"));
        Assert.Equal(content, test.ReadFile("/shared.bin"));
    }

    private static int Link(string existing, string newName)
    {
        using var ln = System.Diagnostics.Process.Start("ln", [existing, newName]);
        ln.WaitForExit();
        return ln.ExitCode;
    }

    [Fact]
    public void ANameThatIsNotUtf8IsLeftAndTheRestMoves()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "ok.txt"), "fine");
        using (var touch = System.Diagnostics.Process.Start("sh", ["-c", "printf data > \"$1\"/$(printf 'bad\\377')", "sh", source]))
        {
            touch.WaitForExit();
            Assert.Equal(0, touch.ExitCode);
        }

        try
        {
            var result = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

            var left = Assert.Single(result.LeftBehind);
            Assert.StartsWith("/bad", left.Path, StringComparison.Ordinal);
            Assert.Contains("not valid UTF-8", left.Reason, StringComparison.Ordinal);
            Assert.Equal("fine"u8.ToArray(), test.ReadFile("/ok.txt"));
            Assert.Equal(2, Directory.EnumerateFileSystemEntries(source).Count());
        }
        finally
        {
            // .NET cannot name that file to delete it: the shell can.
            using var remove = System.Diagnostics.Process.Start("sh", ["-c", "rm -f \"$1\"/bad*", "sh", source]);
            remove.WaitForExit();
        }
    }

    [Fact]
    public void SomeoneElsesFileInTheVolumeIsNeverReplaced()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "same.txt"), "identical");
        File.WriteAllText(Path.Combine(source, "other.txt"), "plaintext version");
        test.WriteFile("/same.txt", "identical"u8);
        test.WriteFile("/other.txt", "volume version"u8);

        var result = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

        var left = Assert.Single(result.LeftBehind);
        Assert.Equal("/other.txt", left.Path);
        Assert.Contains("different file", left.Reason, StringComparison.Ordinal);
        Assert.Equal("volume version"u8.ToArray(), test.ReadFile("/other.txt"));
        Assert.Equal("plaintext version", File.ReadAllText(Path.Combine(source, "other.txt")));

        // The identical one was adopted: verified equal, so its plaintext could go.
        Assert.False(File.Exists(Path.Combine(source, "same.txt")));
        Assert.Equal(1, result.Progress.FilesSkipped);
    }

    [Fact]
    public void ATornLastJournalLineIsDroppedAndTheImportFinishes()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(Path.Combine(source, "dir"));
        File.WriteAllText(Path.Combine(source, "dir", "a.txt"), "first");
        File.WriteAllText(Path.Combine(source, "dir", "b.txt"), "second");
        var stopping = new InPlaceImporter(test.Volume)
        {
            Checkpoint = reached => throw new OperationCanceledException(reached),
        };
        Assert.Throws<OperationCanceledException>(() => stopping.Run(source, "/", null, CancellationToken.None));
        var journal = Path.Combine(source, ImportJournal.FileName);
        File.AppendAllText(journal, "{\"copy\":\"/dir/b.t");

        // The next run appends after the torn line and is stopped again: the run after it must
        // still read every record.
        var appending = new InPlaceImporter(test.Volume)
        {
            Checkpoint = reached =>
            {
                if (reached == "removed")
                {
                    throw new OperationCanceledException(reached);
                }
            },
        };
        Assert.Throws<OperationCanceledException>(() => appending.Run(source, "/", null, CancellationToken.None));
        var result = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

        Assert.True(result.Complete, string.Join("; ", result.LeftBehind));
        Assert.Equal("first"u8.ToArray(), test.ReadFile("/dir/a.txt"));
        Assert.Equal("second"u8.ToArray(), test.ReadFile("/dir/b.txt"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(source));
    }

    [Fact]
    public void AJournalOfAnotherVolumeIsRefusedBeforeAnyChange()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "a.txt"), "data");
        File.WriteAllText(Path.Combine(source, ImportJournal.FileName), "{\"journal\":1,\"volume\":\"00112233445566778899aabbccddeeff\",\"to\":\"/\"}\n");
        Backing.BackingFs.Chmod(Path.Combine(source, ImportJournal.FileName), 0x180);

        var refused = Assert.Throws<ImportRefusedException>(() => new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None));

        Assert.Contains("records an unfinished in-place import", refused.Message, StringComparison.Ordinal);
        Assert.Equal("data", File.ReadAllText(Path.Combine(source, "a.txt")));
        Assert.Throws<Backing.FsException>(() => test.Volume.GetStatus("/a.txt"));
    }

    [Fact]
    public void ADirectorySwappedForASymlinkMidRunDoesNotLeadOutsideTheTree()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        var inner = Path.Combine(source, "u");
        Directory.CreateDirectory(inner);
        File.WriteAllText(Path.Combine(inner, "a"), "inside a");
        File.WriteAllText(Path.Combine(inner, "b"), "inside b");
        var outside = test.Temp.Combine("outside");
        Directory.CreateDirectory(outside);
        var victim = Path.Combine(outside, "b");
        File.WriteAllText(victim, "not to be touched");
        var movedAway = test.Temp.Combine("moved-away");
        bool swapped = false;
        var importer = new InPlaceImporter(test.Volume, shred: true)
        {
            Checkpoint = reached =>
            {
                // Right after u/a is gone, before u/b is looked at: u becomes a symlink out of the tree.
                if (reached == "removed" && !swapped)
                {
                    swapped = true;
                    Directory.Move(inner, movedAway);
                    File.CreateSymbolicLink(inner, outside);
                }
            },
        };

        var result = importer.Run(source, "/", null, CancellationToken.None);

        Assert.True(swapped);
        Assert.Equal("not to be touched", File.ReadAllText(victim));
        Assert.Equal("inside a"u8.ToArray(), test.ReadFile("/u/a"));
        Assert.Equal("inside b"u8.ToArray(), test.ReadFile("/u/b"));
        Assert.Contains(result.LeftBehind, left => left.Path == "/u");
        Assert.Equal(outside, new FileInfo(inner).LinkTarget);
    }

    [Theory]
    [InlineData("read-back", false)]
    [InlineData("verified", false)]
    [InlineData("verified", true)]
    public void AFileRenamedOverTheNameAfterItsCheckIsNeitherOverwrittenNorRemoved(string step, bool shred)
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        var file = Path.Combine(source, "f.txt");
        File.WriteAllText(file, "imported");
        var intruder = test.Temp.Combine("intruder");
        File.WriteAllText(intruder, "someone else's data");
        bool renamed = false;
        var importer = new InPlaceImporter(test.Volume, shred: shred)
        {
            Checkpoint = reached =>
            {
                if (reached == step && !renamed)
                {
                    renamed = true;
                    File.Move(intruder, file, overwrite: true);
                }
            },
        };

        var result = importer.Run(source, "/", null, CancellationToken.None);

        Assert.True(renamed);
        Assert.Equal("someone else's data", File.ReadAllText(file));
        Assert.Equal("/f.txt", Assert.Single(result.LeftBehind).Path);
        Assert.Equal("imported"u8.ToArray(), test.ReadFile("/f.txt"));
        Assert.False(File.Exists(Path.Combine(source, InPlaceImporter.RemovingName)));
    }

    [Fact]
    public void AnEntryLeftUnderTheRemovingNameIsRemovedOnlyIfItIsAVerifiedCopy()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(Path.Combine(source, "d"));
        File.WriteAllText(Path.Combine(source, "d", "f.txt"), "imported");
        File.WriteAllText(Path.Combine(source, InPlaceImporter.RemovingName), "never imported");
        var stopping = new InPlaceImporter(test.Volume)
        {
            Checkpoint = reached =>
            {
                if (reached == "verified")
                {
                    throw new OperationCanceledException(reached);
                }
            },
        };
        Assert.Throws<OperationCanceledException>(() => stopping.Run(source, "/", null, CancellationToken.None));

        // As a crash between the rename and the unlink leaves it.
        File.Move(Path.Combine(source, "d", "f.txt"), Path.Combine(source, "d", InPlaceImporter.RemovingName));
        var result = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

        Assert.Equal("/" + InPlaceImporter.RemovingName, Assert.Single(result.LeftBehind).Path);
        Assert.Equal("never imported", File.ReadAllText(Path.Combine(source, InPlaceImporter.RemovingName)));
        Assert.False(Directory.Exists(Path.Combine(source, "d")));
        Assert.Equal("imported"u8.ToArray(), test.ReadFile("/d/f.txt"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ANewEntryAtAnAlreadyMovedPathNeverReplacesItsVolumeCopy(bool symlink)
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        var entry = Path.Combine(source, "a");
        if (symlink)
        {
            File.CreateSymbolicLink(entry, "old-target");
        }
        else
        {
            File.WriteAllText(entry, "old");
        }

        File.WriteAllText(Path.Combine(source, "b"), "pending");
        var stopping = new InPlaceImporter(test.Volume)
        {
            Checkpoint = reached =>
            {
                if (reached == "removed")
                {
                    throw new OperationCanceledException(reached);
                }
            },
        };
        Assert.Throws<OperationCanceledException>(() => stopping.Run(source, "/", null, CancellationToken.None));
        Assert.False(File.Exists(entry) || new FileInfo(entry).LinkTarget is not null);
        if (symlink)
        {
            File.CreateSymbolicLink(entry, "a new target");
        }
        else
        {
            File.WriteAllText(entry, "a new, longer file");
        }

        var result = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

        Assert.Equal("/a", Assert.Single(result.LeftBehind).Path);
        if (symlink)
        {
            Assert.Equal("old-target", test.Volume.ReadSymlink("/a"));
            Assert.Equal("a new target", new FileInfo(entry).LinkTarget);
        }
        else
        {
            Assert.Equal("old"u8.ToArray(), test.ReadFile("/a"));
            Assert.Equal("a new, longer file", File.ReadAllText(entry));
        }

        Assert.Equal("pending"u8.ToArray(), test.ReadFile("/b"));
    }

    [Fact]
    public void AShredRecordIsRetiredOnRemovalAndNeverAppliedToAFileWithOtherContent()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        var first = Path.Combine(source, "a");
        var second = Path.Combine(source, "b");
        File.WriteAllText(first, "first");
        File.WriteAllText(second, "second");
        var journal = Path.Combine(source, ImportJournal.FileName);
        var stopping = new InPlaceImporter(test.Volume, shred: true)
        {
            Checkpoint = reached =>
            {
                if (reached == "shredded" && !File.Exists(first))
                {
                    throw new OperationCanceledException(reached);
                }
            },
        };
        Assert.Throws<OperationCanceledException>(() => stopping.Run(source, "/", null, CancellationToken.None));
        Assert.Contains("{\"removed\":\"/a\"}", File.ReadAllText(journal), StringComparison.Ordinal);

        // b was zeroed when the run stopped. As if its inode number went to a new file at the
        // same path: the shred record names that new file's device and inode.
        File.Delete(second);
        File.WriteAllText(second, "new data");
        var status = Backing.BackingFs.Stat(second);
        File.AppendAllText(journal, $"{{\"shred\":\"/b\",\"dev\":{status.Device},\"ino\":{status.Inode}}}\n");

        var result = new InPlaceImporter(test.Volume, shred: true).Run(source, "/", null, CancellationToken.None);

        Assert.Equal("new data", File.ReadAllText(second));
        Assert.Equal("/b", Assert.Single(result.LeftBehind).Path);
        Assert.Equal("second"u8.ToArray(), test.ReadFile("/b"));
        Assert.Equal("first"u8.ToArray(), test.ReadFile("/a"));
    }

    [Theory]
    [InlineData(0, "644")]
    [InlineData(1234, "600")]
    public void AJournalOfAnotherUserOrReadableByOthersIsNotTrusted(int owner, string mode)
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "a.txt"), "data");
        var journal = Path.Combine(source, ImportJournal.FileName);
        File.WriteAllText(journal, $"{{\"journal\":1,\"volume\":\"{test.Volume.Header.VolumeId}\",\"to\":\"/\"}}\n{{\"copy\":\"/a.txt\"}}\n");
        Backing.BackingFs.Chmod(journal, Convert.ToUInt32(mode, 8));
        using (var chown = System.Diagnostics.Process.Start("chown", [owner.ToString(System.Globalization.CultureInfo.InvariantCulture), journal]))
        {
            chown.WaitForExit();
            Assert.Equal(0, chown.ExitCode);
        }

        var refused = Assert.Throws<ImportRefusedException>(() => new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None));

        Assert.Contains("not trusted", refused.Message, StringComparison.Ordinal);
        Assert.Equal("data", File.ReadAllText(Path.Combine(source, "a.txt")));
        Assert.Throws<Backing.FsException>(() => test.Volume.GetStatus("/a.txt"));
    }

    [Fact]
    public void ASecondImportOfTheSameDirectoryIsRefusedWhileTheFirstRuns()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "a.txt"), "data");
        ImportRefusedException? refused = null;
        var first = new InPlaceImporter(test.Volume)
        {
            Checkpoint = reached =>
            {
                if (reached == "copied" && refused is null)
                {
                    refused = Assert.Throws<ImportRefusedException>(() => new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None));
                }
            },
        };

        var result = first.Run(source, "/", null, CancellationToken.None);

        Assert.NotNull(refused);
        Assert.Contains("another import", refused.Message, StringComparison.Ordinal);
        Assert.True(result.Complete);
        Assert.Equal("data"u8.ToArray(), test.ReadFile("/a.txt"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(source));
    }

    [Fact]
    public void AnUnreadableLastLineIsTornButDamageElsewhereIsAnError()
    {
        using var test = TestVolume.Create();
        var source = test.Temp.Combine("plain");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "a.txt"), "data");
        var journal = Path.Combine(source, ImportJournal.FileName);
        var header = $"{{\"journal\":1,\"volume\":\"{test.Volume.Header.VolumeId}\",\"to\":\"/\"}}\n";
        WriteJournal(journal, header + "{\"copy\":\"/a.t\n");

        var finished = new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None);

        Assert.True(finished.Complete, string.Join("; ", finished.LeftBehind));
        Assert.Equal("data"u8.ToArray(), test.ReadFile("/a.txt"));

        foreach (var damaged in new[]
        {
            header + "{\"copy\":\"/a.t\n{\"copy\":\"/b\"}\n",
            header + "{\"verified\":\"/b\",\"dev\":\"x\",\"ino\":1}\n",
            header + "{\"shred\":\"/b\",\"dev\":1}\n",
            header + "{\"copy\":7}\n",
            "{\"journal\":\"one\"}\n",
        })
        {
            File.WriteAllText(Path.Combine(source, "b"), "pending");
            WriteJournal(journal, damaged);

            var error = Assert.ThrowsAny<Exception>(() => new InPlaceImporter(test.Volume).Run(source, "/", null, CancellationToken.None));
            Assert.True(error is InvalidDataException or ImportRefusedException, $"{damaged}: {error}");
            Assert.Equal("pending", File.ReadAllText(Path.Combine(source, "b")));
        }
    }

    private static void WriteJournal(string path, string content)
    {
        File.WriteAllText(path, content);
        Backing.BackingFs.Chmod(path, 0x180);
    }
}
