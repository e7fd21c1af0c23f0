using EncFs.Core.Backing;

namespace EncFs.Fuse.Session;

/// <summary>
/// The kernel's node ids mapped to volume paths. A node lives while the kernel holds lookups on
/// it or it has live children (their paths go through it); renames move one node and its whole
/// subtree follows. Unlinked or replaced nodes are detached: path operations on them fail with
/// ENOENT, handle operations go on.
/// A file with several hard links is one node under all its names (found by backing inode): the
/// kernel keys its inode, attribute cache and page cache by node id, so two ids for one file
/// would show a stale link count and stale contents through the other name.
/// </summary>
internal sealed class NodeTable
{
    public const ulong RootId = 1;
    private readonly Dictionary<ulong, Node> _byId = [];
    private readonly Dictionary<(ulong Parent, string Name), Node> _byName = [];
    private readonly Dictionary<ulong, Node> _byInode = [];
    private readonly Lock _lock = new();
    private ulong _nextId = RootId + 1;

    public NodeTable()
    {
        Root = new Node(RootId, string.Empty, null) { Lookups = 1 };
        _byId[RootId] = Root;
    }

    public Node Root { get; }

    public sealed class Node(ulong id, string name, Node? parent)
    {
        public ulong Id { get; } = id;

        public string Name { get; set; } = name;

        public Node? Parent { get; set; } = parent;

        public long Lookups { get; set; }

        public int Children { get; set; }

        public bool Detached { get; set; }

        /// <summary>Backing inode of a non-directory (the key of its hard links); 0 for directories.</summary>
        public ulong Inode { get; init; }

        /// <summary>The names of a hard-linked file besides (Parent, Name); null for most nodes.</summary>
        public List<(Node Parent, string Name)>? OtherLinks { get; set; }
    }

    public string PathOf(ulong id)
    {
        lock (_lock)
        {
            return PathOf(Get(id));
        }
    }

    /// <summary>The backing inode of a non-directory node (even a detached one); 0 if unknown or a directory.</summary>
    public ulong InodeOf(ulong id)
    {
        lock (_lock)
        {
            return _byId.TryGetValue(id, out var node) ? node.Inode : 0;
        }
    }

    public string ChildPath(ulong parentId, string name)
    {
        lock (_lock)
        {
            var parent = PathOf(Get(parentId));
            return parent == "/" ? "/" + name : parent + "/" + name;
        }
    }

    /// <summary>
    /// The node for a child, created on first lookup (or, for another hard link of a file already
    /// known, that file's node); counts one kernel lookup.
    /// </summary>
    public ulong Remember(ulong parentId, string name, in FileStatus status)
    {
        lock (_lock)
        {
            if (!_byName.TryGetValue((parentId, name), out var node))
            {
                var parent = Get(parentId);
                bool linkable = !status.IsDirectory && status.Inode != 0;
                if (linkable && _byInode.TryGetValue(status.Inode, out node))
                {
                    (node.OtherLinks ??= []).Add((parent, name));
                }
                else
                {
                    node = new Node(_nextId++, name, parent) { Inode = linkable ? status.Inode : 0 };
                    _byId[node.Id] = node;
                    if (linkable)
                    {
                        _byInode[status.Inode] = node;
                    }
                }

                parent.Children++;
                _byName[(parentId, name)] = node;
            }

            node.Lookups++;
            return node.Id;
        }
    }

    public void Forget(ulong id, ulong count)
    {
        lock (_lock)
        {
            if (id == RootId || !_byId.TryGetValue(id, out var node))
            {
                return;
            }

            node.Lookups -= (long)count;
            Collect(node);
        }
    }

    /// <summary>The entry at (parent, name) is gone: its node, if any, loses that name; with no name left it is detached.</summary>
    public void Removed(ulong parentId, string name)
    {
        lock (_lock)
        {
            if (_byName.Remove((parentId, name), out var node))
            {
                Unname(node, parentId, name);
            }
        }
    }

    public void Renamed(ulong oldParent, string oldName, ulong newParent, string newName, bool exchange)
    {
        lock (_lock)
        {
            _byName.TryGetValue((oldParent, oldName), out var moving);
            _byName.TryGetValue((newParent, newName), out var displaced);
            if (moving is not null && ReferenceEquals(moving, displaced))
            {
                // Two links of one file: rename(2) does nothing (and an exchange changes nothing).
                return;
            }

            _byName.Remove((oldParent, oldName));
            _byName.Remove((newParent, newName));
            if (moving is not null)
            {
                Move(moving, oldParent, oldName, newParent, newName);
            }

            if (displaced is not null)
            {
                if (exchange)
                {
                    Move(displaced, newParent, newName, oldParent, oldName);
                }
                else
                {
                    Unname(displaced, newParent, newName);
                }
            }
        }
    }

    /// <summary>Moves the node's name (fromParent, fromName) — its primary one or another link — to (parentId, name).</summary>
    private void Move(Node node, ulong fromParent, string fromName, ulong parentId, string name)
    {
        var parent = Get(parentId);
        Node old;
        if (node.Parent!.Id == fromParent && node.Name == fromName)
        {
            old = node.Parent;
            node.Parent = parent;
            node.Name = name;
        }
        else
        {
            int index = node.OtherLinks!.FindIndex(l => l.Parent.Id == fromParent && l.Name == fromName);
            old = node.OtherLinks[index].Parent;
            node.OtherLinks[index] = (parent, name);
        }

        if (!ReferenceEquals(old, parent))
        {
            old.Children--;
            parent.Children++;
            Collect(old);
        }

        _byName[(parentId, name)] = node;
    }

    /// <summary>Drops one name of a node (already out of the name index); the last one detaches it.</summary>
    private void Unname(Node node, ulong parentId, string name)
    {
        Node parent;
        if (node.Parent!.Id == parentId && node.Name == name)
        {
            parent = node.Parent;
            if (node.OtherLinks is { Count: > 0 } links)
            {
                // Another link becomes the name its path goes by.
                (node.Parent, node.Name) = links[^1];
                links.RemoveAt(links.Count - 1);
            }
            else
            {
                node.Detached = true;
                if (node.Inode != 0)
                {
                    ForgetInode(node); // the inode number may be reused by a new file
                }
            }
        }
        else
        {
            int index = node.OtherLinks!.FindIndex(l => l.Parent.Id == parentId && l.Name == name);
            parent = node.OtherLinks[index].Parent;
            node.OtherLinks.RemoveAt(index);
        }

        if (!node.Detached)
        {
            parent.Children--;
            Collect(parent);
        }
        else
        {
            Collect(node);
        }
    }

    private void Collect(Node node)
    {
        while (node.Id != RootId && node.Lookups <= 0 && node.Children == 0)
        {
            _byId.Remove(node.Id);
            if (!node.Detached)
            {
                _byName.Remove((node.Parent!.Id, node.Name));
                ForgetInode(node);

                // A hard-linked file's other names go with it (files have no children: the
                // parents are directories, collected on their own).
                foreach (var (linkParent, linkName) in node.OtherLinks ?? [])
                {
                    _byName.Remove((linkParent.Id, linkName));
                    linkParent.Children--;
                    Collect(linkParent);
                }
            }

            var parent = node.Parent!;
            parent.Children--;
            node = parent;
        }
    }

    private void ForgetInode(Node node)
    {
        if (node.Inode != 0 && _byInode.TryGetValue(node.Inode, out var known) && ReferenceEquals(known, node))
        {
            _byInode.Remove(node.Inode);
        }
    }

    private Node Get(ulong id) =>
        _byId.TryGetValue(id, out var node) ? node : throw new FsException(Errno.ENOENT, $"unknown node {id}");

    private static string PathOf(Node node)
    {
        if (node.Id == RootId)
        {
            return "/";
        }

        var parts = new Stack<string>();
        for (var n = node; n.Id != RootId; n = n.Parent!)
        {
            if (n.Detached)
            {
                throw new FsException(Errno.ENOENT, "the entry was removed");
            }

            parts.Push(n.Name);
        }

        return "/" + string.Join('/', parts);
    }
}
