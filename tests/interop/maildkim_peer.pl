#!/usr/bin/perl
# Mail::DKIM as an interop peer for `cargo xtask interop`. No DNS: keys come from a zone file.
#
#   maildkim_peer.pl features
#       Prints "ed25519=yes" or "ed25519=no" (Debian's Mail::DKIM may lack ed25519-sha256).
#
#   maildkim_peer.pl verify --zone ZONE [--expect pass|fail] FILE...
#       Checks every DKIM-Signature of each FILE. With --expect pass (the default) a file is ok
#       when it has at least one signature and all of them pass; with --expect fail it is ok
#       when none passes. Prints "ok FILE" or "FAIL FILE: why" per file, then
#       "maildkim: N passed, M failed". Exit status 1 if any file was not ok.
#
#   maildkim_peer.pl sign --key PEM --domain D --selector S --canon HEADER/BODY --out-dir DIR FILE...
#       Signs each FILE with rsa-sha256 and writes DIR/<basename>.
#
# Keys are served through Mail::DKIM::DNS::resolver(), the documented hook for replacing the
# Net::DNS::Resolver that Mail::DKIM uses: our resolver answers from the zone file only.
# Bare LF line ends are read as CRLF and a missing final CRLF is added, as an MTA puts a
# message on the wire (RFC 5322 section 2.3, RFC 5321 section 4.1.1.4).
use strict;
use warnings;
use File::Basename qw(basename);
use Getopt::Long qw(GetOptionsFromArray);
use Mail::DKIM::Verifier;
use Mail::DKIM::Signer;
use Mail::DKIM::DNS;
use Net::DNS;

package ZoneResolver;

# A stand-in for Net::DNS::Resolver: send() answers TXT queries from a hash.
sub new {
    my ( $class, $records ) = @_;
    return bless { records => $records, error => 'NOERROR' }, $class;
}

sub send {
    my ( $self, $name, $type ) = @_;
    $type //= 'A';
    my $packet = Net::DNS::Packet->new( $name, $type, 'IN' );
    $packet->header->qr(1);
    my $key = lc $name;
    $key =~ s/\.$//;
    if ( uc $type eq 'TXT' && exists $self->{records}{$key} ) {
        $packet->header->rcode('NOERROR');
        $packet->push(
            answer => Net::DNS::RR->new(
                name    => $name,
                type    => 'TXT',
                ttl     => 300,
                txtdata => $self->{records}{$key},
            )
        );
    }
    else {
        $packet->header->rcode('NXDOMAIN');
    }
    $self->{error} = 'NOERROR';
    return $packet;
}

sub errorstring { return $_[0]{error} }

package main;

# name -> [strings] from `name [ttl] [IN] TXT "a" "b"` lines (; comments, parentheses).
sub parse_zone {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    my ( %records, $cur, $depth );
    $cur   = '';
    $depth = 0;
    my @logical;
    while ( my $line = <$fh> ) {
        chomp $line;
        my ( $out, $inq, $esc ) = ( '', 0, 0 );
        for my $ch ( split //, $line ) {
            if ($esc) { $out .= $ch; $esc = 0; next }
            if ( $ch eq '\\' && $inq ) { $out .= $ch; $esc = 1; next }
            $inq = !$inq if $ch eq '"';
            last if $ch eq ';' && !$inq;
            if ( $ch eq '(' && !$inq ) { $depth++; $ch = ' ' }
            elsif ( $ch eq ')' && !$inq ) { $depth--; $ch = ' ' }
            $out .= $ch;
        }
        $cur .= " $out";
        if ( $depth == 0 ) {
            $cur =~ s/^\s+|\s+$//g;
            push @logical, $cur if length $cur;
            $cur = '';
        }
    }
    for my $l (@logical) {
        next unless $l =~ /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?TXT\s+(.*)$/i;
        my ( $name, $rest ) = ( lc $1, $2 );
        $name =~ s/\.$//;
        my @strings;
        while ( $rest =~ /"((?:[^"\\]|\\.)*)"/g ) {
            ( my $s = $1 ) =~ s/\\(.)/$1/g;
            push @strings, $s;
        }
        @strings = ($rest) unless @strings;
        # One string per record is enough for Mail::DKIM, which joins them anyway; keep
        # each under 255 octets so Net::DNS accepts it.
        my $data = join '', @strings;
        my @parts;
        push @parts, substr( $data, 0, 255, '' ) while length $data;
        $records{$name} = \@parts;
    }
    return \%records;
}

sub read_message {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    local $/;
    my $data = <$fh>;
    $data =~ s/(?<!\r)\n/\r\n/g;
    # SMTP DATA always ends in CRLF (RFC 5321 section 4.1.1.4). Mail::DKIM 1.20230212 would
    # otherwise hash a "simple" body without the CRLF that RFC 6376 section 3.4.3 adds.
    $data .= "\r\n" if length $data && $data !~ /\r\n\z/;
    return $data;
}

sub has_ed25519 {
    return eval { require Mail::DKIM::Algorithm::ed25519_sha256; 1 } ? 1 : 0;
}

sub cmd_verify {
    my @args = @_;
    my ( $zone, $expect ) = ( undef, 'pass' );
    GetOptionsFromArray( \@args, 'zone=s' => \$zone, 'expect=s' => \$expect )
      or die "bad options\n";
    die "--zone is required\n" unless defined $zone;
    Mail::DKIM::DNS::resolver( ZoneResolver->new( parse_zone($zone) ) );
    my ( $passed, $failed ) = ( 0, 0 );
    for my $path (@args) {
        my ( @results, $why );
        eval {
            my $v = Mail::DKIM::Verifier->new();
            $v->PRINT( read_message($path) );
            $v->CLOSE;
            @results = map { [ $_->result, $_->result_detail ] } $v->signatures;
            1;
        } or $why = "error: $@";
        my $n_pass = grep { $_->[0] eq 'pass' } @results;
        my $ok;
        if ( $expect eq 'pass' ) {
            $ok = @results && $n_pass == @results;
            $why //= @results
              ? join( ', ', map { $_->[1] } @results )
              : 'no signature';
        }
        else {
            $ok = $n_pass == 0;
            $why //= 'a tampered message verified';
        }
        if ($ok) { $passed++; print "ok $path\n" }
        else     { $failed++; $why =~ s/\s+/ /g; print "FAIL $path: $why\n" }
    }
    print "maildkim: $passed passed, $failed failed\n";
    return $failed ? 1 : 0;
}

sub cmd_sign {
    my @args = @_;
    my ( $key, $domain, $selector, $canon, $out ) = ( undef, undef, undef, 'relaxed/relaxed' );
    GetOptionsFromArray(
        \@args,
        'key=s'      => \$key,
        'domain=s'   => \$domain,
        'selector=s' => \$selector,
        'canon=s'    => \$canon,
        'out-dir=s'  => \$out,
    ) or die "bad options\n";
    die "--key, --domain, --selector and --out-dir are required\n"
      unless defined $key && defined $domain && defined $selector && defined $out;
    mkdir $out unless -d $out;
    my $failed = 0;
    for my $path (@args) {
        my $ok = eval {
            my $msg    = read_message($path);
            my $signer = Mail::DKIM::Signer->new(
                Algorithm => 'rsa-sha256',
                Method    => $canon,
                Domain    => $domain,
                Selector  => $selector,
                KeyFile   => $key,
            );
            $signer->PRINT($msg);
            $signer->CLOSE;
            my $sig = $signer->signature->as_string;
            $sig =~ s/(?<!\r)\n/\r\n/g;
            open my $fh, '>:raw', "$out/" . basename($path) or die "$!\n";
            print $fh $sig, "\r\n", $msg;
            close $fh;
            1;
        };
        unless ($ok) { $failed++; print "FAIL $path: $@" }
    }
    printf "maildkim sign: %d signed, %d failed\n", @args - $failed, $failed;
    return $failed ? 1 : 0;
}

my $cmd = shift @ARGV // '';
if    ( $cmd eq 'features' ) { printf "ed25519=%s\n", has_ed25519() ? 'yes' : 'no'; exit 0 }
elsif ( $cmd eq 'verify' )   { exit cmd_verify(@ARGV) }
elsif ( $cmd eq 'sign' )     { exit cmd_sign(@ARGV) }
else { print STDERR "usage: maildkim_peer.pl features | verify --zone Z FILE... | sign ...\n"; exit 2 }
