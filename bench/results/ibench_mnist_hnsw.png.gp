set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
9264.237 0.98820
15798.712 0.98820
11064.902 0.99330
11369.470 0.99650
8026.537 0.99800
5193.695 0.99850
4325.679 0.99970
EOD
$d1 << EOD
15378.828 0.98820
43540.215 0.98820
25364.878 0.99330
24379.585 0.99650
8298.845 0.99800
12247.032 0.99850
8645.085 0.99970
EOD
$d2 << EOD
15163.230 0.99700
14951.497 0.99700
15321.285 0.99700
15339.251 0.99700
10829.366 0.99770
9570.625 0.99860
6766.232 0.99940
EOD
$d3 << EOD
18545.705 0.99700
19567.209 0.99700
17654.274 0.99700
16921.699 0.99700
11862.501 0.99770
13831.403 0.99860
5700.330 0.99940
EOD
$d4 << EOD
28351.773 0.95250
16751.976 0.98010
16377.820 0.99310
13502.677 0.99570
9565.842 0.99820
7733.252 0.99870
4538.915 0.99990
EOD
$d5 << EOD
33396.061 0.95250
29424.529 0.98010
17084.119 0.99310
17233.674 0.99570
9605.178 0.99820
11152.660 0.99870
6659.376 0.99990
EOD
$d6 << EOD
3136.746 0.97990
1995.049 0.99010
1766.235 0.99610
2114.946 0.99830
1081.605 0.99960
1461.365 1.00000
677.258 1.00000
EOD
$d7 << EOD
4704.061 0.97990
2729.039 0.99010
3008.889 0.99610
2249.109 0.99830
3464.134 0.99960
2974.181 1.00000
1615.336 1.00000
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
