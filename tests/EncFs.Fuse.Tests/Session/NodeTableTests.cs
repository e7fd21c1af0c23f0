using EncFs.Core.Backing;
using EncFs.Fuse.Session;

namespace EncFs.Fuse.Tests.Session;

/// <summary>
/// The node table without a mount: hard links of one file are one node (the kernel keys its
/// inode, attribute and page caches by node id), and names come and go correctly.
/// </summary>
public sealed class NodeTableTests
{
    private const ulong Root = NodeTable.RootId;

    [Fact]
    public void HardLinksOfOneFileAreOneNode()
    {
        var table = new NodeTable();
        var dir = table.Remember(Root, "dir", Directory(100));
        var a = table.Remember(Root, "a", File(7));
        var b = table.Remember(dir, "b", File(7));
        var other = table.Remember(Root, "other", File(8));

        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
        Assert.Equal(a, table.Remember(dir, "b", File(7))); // looked up again by the same name
        Assert.Equal("/a", table.PathOf(a));

        // The name the path goes by disappears: the other link takes over.
        table.Removed(Root, "a");
        Assert.Equal("/dir/b", table.PathOf(a));

        // The last name disappears: the node is detached (open handles go on, paths fail).
        table.Removed(dir, "b");
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => table.PathOf(a)).Errno);

        // Inode 7 reused by a new file afterwards: a new node, not the detached one.
        var reused = table.Remember(Root, "new", File(7));
        Assert.NotEqual(a, reused);
        Assert.Equal("/new", table.PathOf(reused));
    }

    [Fact]
    public void RenamingOneLinkKeepsTheOthers()
    {
        var table = new NodeTable();
        var sub = table.Remember(Root, "sub", Directory(50));
        var a = table.Remember(Root, "a", File(9));
        table.Remember(Root, "b", File(9));

        // Renaming a non-primary link into another directory.
        table.Renamed(Root, "b", sub, "c", exchange: false);
        Assert.Equal(a, table.Remember(sub, "c", File(9)));
        table.Removed(Root, "a");
        Assert.Equal("/sub/c", table.PathOf(a));

        // rename(2) between two links of one file does nothing: both names stay.
        table.Remember(Root, "d", File(9));
        table.Renamed(sub, "c", Root, "d", exchange: false);
        Assert.Equal(a, table.Remember(sub, "c", File(9)));
        Assert.Equal(a, table.Remember(Root, "d", File(9)));
    }

    [Fact]
    public void RenameOverALinkDropsOnlyThatName()
    {
        var table = new NodeTable();
        var a = table.Remember(Root, "a", File(11));
        table.Remember(Root, "b", File(11));
        var x = table.Remember(Root, "x", File(12));

        table.Renamed(Root, "x", Root, "a", exchange: false); // x replaces the link "a"
        Assert.Equal("/a", table.PathOf(x));
        Assert.Equal("/b", table.PathOf(a));
    }

    [Fact]
    public void ForgettingAHardLinkedFileReleasesAllItsNames()
    {
        var table = new NodeTable();
        var dir = table.Remember(Root, "dir", Directory(60));
        var a = table.Remember(dir, "a", File(13));
        table.Remember(Root, "b", File(13));

        table.Forget(a, 2); // both lookups
        Assert.Equal(Errno.ENOENT, Assert.Throws<FsException>(() => table.PathOf(a)).Errno);

        // The directory is still known (one lookup), and a fresh lookup makes a fresh node.
        table.Forget(dir, 1);
        var again = table.Remember(Root, "b", File(13));
        Assert.NotEqual(a, again);
        Assert.Equal("/b", table.PathOf(again));
    }

    [Fact]
    public void DirectoriesAreNeverMergedByInode()
    {
        var table = new NodeTable();
        var one = table.Remember(Root, "one", Directory(70));
        var two = table.Remember(Root, "two", Directory(70));
        Assert.NotEqual(one, two);
    }

    private static FileStatus File(ulong inode) => Status(inode, FileStatus.Regular | 0x1A4);

    private static FileStatus Directory(ulong inode) => Status(inode, FileStatus.Directory | 0x1ED);

    private static FileStatus Status(ulong inode, uint mode) =>
        new(mode, inode, 1, 1, 0, 0, 0, 0, 4096, default, default, default, 0);
}
